terraform {
  required_version = ">= 1.11.0"
  required_providers {
    konnect = {
      source  = "kong/konnect"
      version = ">= 3.0, < 4.0"
    }
  }
}
