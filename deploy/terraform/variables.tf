variable "environment" {
  description = "Environment name (production, disaster-recovery, ...), used in tags."
  type        = string
}

variable "region" {
  description = "AWS region of the stack."
  type        = string
}

variable "name" {
  description = "Prefix of the names of global resources (IAM roles); unique per environment."
  type        = string
}

variable "cluster_name" {
  description = "EKS cluster name; deploy/k8s/cluster-autoscaler discovers node groups by it."
  type        = string
  default     = "claude-flow-novice"
}

variable "eks_version" {
  description = "Kubernetes version of the cluster (keep the cluster autoscaler's minor equal)."
  type        = string
  default     = "1.35"
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "Availability zones: one private and one public subnet in each."
  type        = list(string)
}

variable "node_instance_types" {
  description = "Instance types of the worker node group (similar sizes: --balance-similar-node-groups)."
  type        = list(string)
  default     = ["m6i.large", "m5.large"]
}

variable "node_min_size" {
  description = "Minimum nodes (the cluster autoscaler scales between min and max)."
  type        = number
  default     = 2
}

variable "node_max_size" {
  description = "Maximum nodes."
  type        = number
  default     = 10
}

variable "db_identifier" {
  description = "RDS identifier of the primary (the guide's claude-flow-primary)."
  type        = string
  default     = "claude-flow-primary"
}

variable "db_replica_identifier" {
  description = "RDS identifier of the read replica (the guide's claude-flow-read-replica); null: no replica."
  type        = string
  default     = "claude-flow-read-replica"
}

variable "db_instance_class" {
  description = "RDS instance class (vertical scaling: the guide's db.r5.large)."
  type        = string
  default     = "db.r6g.large"
}

variable "db_allocated_storage_gb" {
  description = "Initial storage of the primary, in GiB (grows by itself up to 10 times this)."
  type        = number
  default     = 100
}

variable "db_multi_az" {
  description = "Standby of the primary in a second availability zone."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "RDS automated backups (point-in-time recovery), besides cfn backups in S3."
  type        = number
  default     = 30
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.r6g.large"
}

variable "redis_replicas" {
  description = "Read replicas of the Redis primary (automatic failover when at least 1)."
  type        = number
  default     = 1
}

variable "existing_backup_bucket" {
  description = "Use this existing bucket (e.g. production's, from the recovery region) instead of creating one."
  type        = string
  default     = null
}

variable "existing_backup_bucket_region" {
  description = "Region of existing_backup_bucket."
  type        = string
  default     = null
}

variable "k8s_namespace" {
  description = "Namespace of the application (deploy/k8s/overlays/production)."
  type        = string
  default     = "claude-flow-novice"
}

variable "deletion_protection" {
  description = "Protect the database and the bucket from deletion by terraform destroy."
  type        = bool
  default     = true
}
