# The guide's AWS stack for claude-flow-novice: VPC with private subnets, EKS, RDS PostgreSQL 15
# with a read replica, ElastiCache Redis 7, an encrypted versioned S3 backup bucket and IAM roles
# for the pods (IRSA). See docs/operations/deployment.md; it is not applied by the project's CI.
terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
    tls = {
      source  = "hashicorp/tls"
      version = "~> 4.0"
    }
  }

  # State in S3 (versioned: the guide's "Terraform state backup: Continuous"), one key per
  # environment: terraform init -backend-config="bucket=<state bucket>" \
  #   -backend-config="key=claude-flow-novice/<environment>.tfstate" -backend-config="region=<region>"
  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "claude-flow-novice"
      Environment = var.environment
    }
  }
}
