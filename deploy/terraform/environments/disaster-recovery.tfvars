# The guide's `terraform apply -var-file=environments/disaster-recovery.tfvars`: the same stack in
# the recovery region (its own state key), reading production's backup bucket, which S3 serves
# from any region. Smaller to start; scale up after the restore.
environment        = "disaster-recovery"
region             = "us-west-2"
name               = "claude-flow-novice-dr"
cluster_name       = "claude-flow-novice"
availability_zones = ["us-west-2a", "us-west-2b", "us-west-2c"]
vpc_cidr           = "10.41.0.0/16"

node_instance_types = ["m6i.large", "m5.large"]
node_min_size       = 2
node_max_size       = 20

db_identifier            = "claude-flow-primary"
db_replica_identifier    = null
db_instance_class        = "db.r6g.large"
db_allocated_storage_gb  = 100
db_multi_az              = false
db_backup_retention_days = 7

redis_node_type = "cache.r6g.large"
redis_replicas  = 0

existing_backup_bucket        = "claude-flow-novice-backups-123456789012"
existing_backup_bucket_region = "us-east-1"
