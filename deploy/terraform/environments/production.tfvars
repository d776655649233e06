environment        = "production"
region             = "us-east-1"
name               = "claude-flow-novice"
cluster_name       = "claude-flow-novice"
availability_zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
vpc_cidr           = "10.40.0.0/16"

node_instance_types = ["m6i.large", "m5.large"]
node_min_size       = 3
node_max_size       = 20

db_identifier            = "claude-flow-primary"
db_replica_identifier    = "claude-flow-read-replica"
db_instance_class        = "db.r6g.large"
db_allocated_storage_gb  = 100
db_multi_az              = true
db_backup_retention_days = 30

redis_node_type = "cache.r6g.large"
redis_replicas  = 1
