output "service_id" {
  description = "Konnect ID of the sum-api gateway service."
  value       = module.gateway.service_id
}

output "route_ids" {
  description = "Konnect route IDs by route name."
  value       = module.gateway.route_ids
}

output "consumer_ids" {
  description = "Konnect consumer IDs by username."
  value       = module.gateway.consumer_ids
}
