# What the Kubernetes manifests need: `terraform output -raw k8s_infra_env` is the infra.env of
# deploy/k8s/overlays/<production|disaster-recovery> and deploy/k8s/cluster-autoscaler.
output "k8s_infra_env" {
  description = "infra.env for the k8s overlay and the cluster autoscaler."
  value = join("\n", [
    "AWS_REGION=${var.region}",
    "CLUSTER_NAME=${var.cluster_name}",
    "APP_ROLE_ARN=${module.irsa.app_role_arn}",
    "CLUSTER_AUTOSCALER_ROLE_ARN=${module.irsa.cluster_autoscaler_role_arn}",
    "BACKUP_BUCKET=${module.backups.bucket_name}",
    "BACKUP_BUCKET_REGION=${coalesce(var.existing_backup_bucket_region, var.region)}",
    "",
  ])
}

output "cluster_name" {
  description = "EKS cluster: aws eks update-kubeconfig --name <this> --region <region>."
  value       = module.eks.cluster_name
}

output "database_endpoint" {
  description = "Primary host:port for DATABASE_URL (user claudeflow, database claudeflow)."
  value       = module.database.endpoint
}

output "database_read_endpoint" {
  description = "Read replica host:port for DATABASE_READ_URL (null without a replica)."
  value       = module.database.replica_endpoint
}

output "database_master_secret_arn" {
  description = "Secrets Manager secret holding the claudeflow user's password (managed by RDS)."
  value       = module.database.master_user_secret_arn
}

output "redis_endpoint" {
  description = "Primary endpoint for REDIS_URL (rediss://:<auth token>@<this>:6379)."
  value       = module.cache.primary_endpoint
}

output "redis_auth_token" {
  description = "Redis AUTH token (the password in REDIS_URL)."
  value       = module.cache.auth_token
  sensitive   = true
}

output "backup_bucket" {
  description = "Bucket for BACKUP_TARGET (s3://<this>/claude-flow-novice)."
  value       = module.backups.bucket_name
}
