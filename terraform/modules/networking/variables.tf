variable "name_prefix" {
  description = "Prefix of every resource name, e.g. sum-api-dev."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC; split into one public and one private /20 per AZ."
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_count" {
  description = "Number of availability zones (at least 2: the service runs tasks in each)."
  type        = number
  default     = 2
  validation {
    condition     = var.az_count >= 2 && var.az_count <= 4
    error_message = "az_count must be between 2 and 4: the service must survive the loss of one AZ."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all AZs (cheaper, for dev) instead of one per AZ."
  type        = bool
  default     = false
}

variable "gateway_egress_cidrs" {
  description = "Egress addresses of the API gateway (Kong data planes); the only clients the ALB admits besides operators."
  type        = list(string)
  validation {
    condition     = length(var.gateway_egress_cidrs) > 0 && alltrue([for c in var.gateway_egress_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "gateway_egress_cidrs must list the gateway's egress CIDRs, never 0.0.0.0/0 (that would let clients bypass the gateway)."
  }
}

variable "operator_cidrs" {
  description = "Operators' addresses, admitted to the ALB for debugging (may be empty)."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for c in var.operator_cidrs : can(cidrhost(c, 0)) && c != "0.0.0.0/0"])
    error_message = "operator_cidrs must be CIDRs and never 0.0.0.0/0."
  }
}

variable "container_port" {
  description = "Port of the service's public listener inside the task (SERVICE_LISTEN)."
  type        = number
  default     = 8080
}

variable "metrics_port" {
  description = "Port of the service's Prometheus listener (SERVICE_METRICS_LISTEN)."
  type        = number
  default     = 9090
}

variable "metrics_scraper_cidrs" {
  description = "Addresses of the Prometheus servers allowed to scrape the metrics port (may be empty)."
  type        = list(string)
  default     = []
}

variable "flow_log_retention_days" {
  description = "Retention of the VPC flow logs, in days."
  type        = number
  default     = 30
}
