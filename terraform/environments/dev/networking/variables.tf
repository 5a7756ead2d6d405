variable "region" {
  description = "AWS region of the environment."
  type        = string
  default     = "eu-west-1"
}

variable "environment" {
  description = "Environment name (dev, staging, prod): part of every name and the canary's Environment dimension."
  type        = string
  default     = "dev"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,15}$", var.environment))
    error_message = "environment must be 2-16 lowercase letters, digits or dashes."
  }
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "single_nat_gateway" {
  description = "One NAT gateway for both AZs (cheaper; a NAT AZ outage then cuts the other AZ's egress too)."
  type        = bool
  default     = true
}

variable "gateway_egress_cidrs" {
  description = "Egress CIDRs of the Kong data planes: the only clients the ALB admits besides operators."
  type        = list(string)
}

variable "operator_cidrs" {
  description = "Operators' CIDRs, admitted to the ALB for debugging."
  type        = list(string)
  default     = []
}

variable "metrics_scraper_cidrs" {
  description = "Prometheus servers allowed to scrape the service's metrics port."
  type        = list(string)
  default     = []
}
