variable "control_plane_id" {
  description = "Konnect control plane (serverless gateway) that receives the policy."
  type        = string
}

variable "policy" {
  description = "gateway/kong.yaml, decoded with yamldecode(): the one source of truth for the service, routes, plugins and consumers."
  type        = any
}

variable "upstream_host" {
  description = "Host of the service's upstream: the ALB's DNS name (kong.yaml's host is a placeholder)."
  type        = string
}

variable "upstream_port" {
  description = "Port of the upstream (the ALB's HTTPS listener)."
  type        = number
  default     = 443
}

variable "secrets" {
  description = "Values of the env vault references in kong.yaml, by reference name (canary-api-key, loadgen-api-key, release-check-api-key, example-customer-api-key, sum-api-origin-secret)."
  type        = map(string)
  sensitive   = true
}
