output "service_id" {
  description = "Konnect ID of the sum-api gateway service."
  value       = konnect_gateway_service.this.id
}

output "route_ids" {
  description = "Konnect route IDs by route name."
  value       = { for k, r in konnect_gateway_route.this : k => r.id }
}

output "consumer_ids" {
  description = "Konnect consumer IDs by username."
  value       = { for k, c in konnect_gateway_consumer.this : k => c.id }
}
