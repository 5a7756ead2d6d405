# The gateway policy in Konnect, declared from gateway/kong.yaml itself (no second copy):
# the one service, its routes, the consumers with their key-auth credentials, and every
# plugin at the scope kong.yaml gives it. `{vault://env/<name>}` references are resolved from
# var.secrets here, because Kong does not resolve references in key-auth credentials.

locals {
  vault_ref = "^\\{vault://env/([A-Za-z0-9_-]+)\\}$"

  service   = var.policy.services[0]
  routes    = { for r in local.service.routes : r.name => r }
  consumers = { for c in var.policy.consumers : c.username => c }

  # Every plugin with its scope, keyed "<scope>/<name>/<plugin>".
  plugins = merge(
    { for p in try(local.service.plugins, []) : "service/${local.service.name}/${p.name}" => merge(p, { scope = "service", owner = local.service.name }) },
    merge([for r in local.service.routes : { for p in try(r.plugins, []) : "route/${r.name}/${p.name}" => merge(p, { scope = "route", owner = r.name }) }]...),
    merge([for c in var.policy.consumers : { for p in try(c.plugins, []) : "consumer/${c.username}/${p.name}" => merge(p, { scope = "consumer", owner = c.username }) }]...),
  )

  credentials = merge([
    for c in var.policy.consumers : {
      for i, cred in try(c.keyauth_credentials, []) : "${c.username}/${i}" => {
        consumer = c.username
        secret   = regex(local.vault_ref, cred.key)[0]
      }
    }
  ]...)

  # "Name:{vault://env/x}" becomes "Name:<value of x>"; literal values stay as they are.
  resolve_headers = {
    for k, p in local.plugins : k => {
      for op in ["add", "append", "replace"] : op => [
        for h in try(p.config[op].headers, []) : (
          can(regex(local.vault_ref, trimprefix(h, "${split(":", h)[0]}:")))
          ? "${split(":", h)[0]}:${var.secrets[regex(local.vault_ref, trimprefix(h, "${split(":", h)[0]}:"))[0]]}"
          : h
        )
      ]
    } if p.name == "request-transformer"
  }
}

resource "konnect_gateway_service" "this" {
  control_plane_id = var.control_plane_id
  name             = local.service.name
  protocol         = local.service.protocol
  host             = var.upstream_host
  port             = var.upstream_port
  path             = try(local.service.path, "/")
  connect_timeout  = try(local.service.connect_timeout, 60000)
  read_timeout     = try(local.service.read_timeout, 60000)
  write_timeout    = try(local.service.write_timeout, 60000)
  retries          = try(local.service.retries, 5)
  tags             = try(local.service.tags, [])
}

resource "konnect_gateway_route" "this" {
  for_each         = local.routes
  control_plane_id = var.control_plane_id
  name             = each.key
  paths            = each.value.paths
  methods          = try(each.value.methods, null)
  protocols        = try(each.value.protocols, ["http", "https"])
  strip_path       = try(each.value.strip_path, true)
  preserve_host    = try(each.value.preserve_host, false)
  service = {
    id = konnect_gateway_service.this.id
  }
}

resource "konnect_gateway_consumer" "this" {
  for_each         = local.consumers
  control_plane_id = var.control_plane_id
  username         = each.key
  tags             = try(each.value.tags, [])
}

resource "konnect_gateway_key_auth" "this" {
  for_each         = local.credentials
  control_plane_id = var.control_plane_id
  consumer_id      = konnect_gateway_consumer.this[each.value.consumer].id
  key              = var.secrets[each.value.secret]
}

resource "konnect_gateway_plugin_key_auth" "this" {
  for_each         = { for k, p in local.plugins : k => p if p.name == "key-auth" }
  control_plane_id = var.control_plane_id
  enabled          = try(each.value.enabled, true)
  config = {
    key_names        = try(each.value.config.key_names, ["apikey"])
    hide_credentials = try(each.value.config.hide_credentials, false)
    key_in_header    = try(each.value.config.key_in_header, true)
    key_in_query     = try(each.value.config.key_in_query, true)
    key_in_body      = try(each.value.config.key_in_body, false)
  }
  route   = each.value.scope == "route" ? { id = konnect_gateway_route.this[each.value.owner].id } : null
  service = each.value.scope == "service" ? { id = konnect_gateway_service.this.id } : null
}

resource "konnect_gateway_plugin_rate_limiting" "this" {
  for_each         = { for k, p in local.plugins : k => p if p.name == "rate-limiting" }
  control_plane_id = var.control_plane_id
  enabled          = try(each.value.enabled, true)
  config = {
    second              = try(each.value.config.second, null)
    minute              = try(each.value.config.minute, null)
    hour                = try(each.value.config.hour, null)
    day                 = try(each.value.config.day, null)
    limit_by            = try(each.value.config.limit_by, "consumer")
    policy              = try(each.value.config.policy, "local")
    fault_tolerant      = try(each.value.config.fault_tolerant, true)
    hide_client_headers = try(each.value.config.hide_client_headers, false)
    error_code          = try(each.value.config.error_code, 429)
    error_message       = try(each.value.config.error_message, "API rate limit exceeded")
  }
  route    = each.value.scope == "route" ? { id = konnect_gateway_route.this[each.value.owner].id } : null
  service  = each.value.scope == "service" ? { id = konnect_gateway_service.this.id } : null
  consumer = each.value.scope == "consumer" ? { id = konnect_gateway_consumer.this[each.value.owner].id } : null
}

resource "konnect_gateway_plugin_request_size_limiting" "this" {
  for_each         = { for k, p in local.plugins : k => p if p.name == "request-size-limiting" }
  control_plane_id = var.control_plane_id
  enabled          = try(each.value.enabled, true)
  config = {
    allowed_payload_size   = try(each.value.config.allowed_payload_size, 128)
    size_unit              = try(each.value.config.size_unit, "megabytes")
    require_content_length = try(each.value.config.require_content_length, false)
  }
  route   = each.value.scope == "route" ? { id = konnect_gateway_route.this[each.value.owner].id } : null
  service = each.value.scope == "service" ? { id = konnect_gateway_service.this.id } : null
}

resource "konnect_gateway_plugin_request_transformer" "this" {
  for_each         = { for k, p in local.plugins : k => p if p.name == "request-transformer" }
  control_plane_id = var.control_plane_id
  enabled          = try(each.value.enabled, true)
  config = {
    remove = {
      headers = try(each.value.config.remove.headers, [])
    }
    replace = {
      headers = local.resolve_headers[each.key].replace
    }
    add = {
      headers = local.resolve_headers[each.key].add
    }
    append = {
      headers = local.resolve_headers[each.key].append
    }
  }
  route   = each.value.scope == "route" ? { id = konnect_gateway_route.this[each.value.owner].id } : null
  service = each.value.scope == "service" ? { id = konnect_gateway_service.this.id } : null
}

# kong.yaml's global opentelemetry plugin. Kong runs in Konnect, outside the VPC: its spans go to
# https://<ALB>/v1/traces, which the compute module forwards to an ADOT collector of Kong's own.
# kong.yaml names the ALB by the same placeholder host as the service; the ALB's name replaces
# it here, as it does the service's host.
resource "konnect_gateway_plugin_opentelemetry" "this" {
  for_each         = { for p in try(var.policy.plugins, []) : p.name => p if p.name == "opentelemetry" }
  control_plane_id = var.control_plane_id
  enabled          = try(each.value.enabled, true)
  config = {
    traces_endpoint     = replace(each.value.config.traces_endpoint, local.service.host, var.upstream_host)
    sampling_rate       = try(each.value.config.sampling_rate, null)
    resource_attributes = try(each.value.config.resource_attributes, null)
    propagation = {
      extract        = try(each.value.config.propagation.extract, null)
      inject         = try(each.value.config.propagation.inject, null)
      default_format = try(each.value.config.propagation.default_format, "w3c")
    }
  }
}
