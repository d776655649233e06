# RDS PostgreSQL 15 (database and user claudeflow, pg_stat_statements preloaded, encrypted,
# password managed by RDS in Secrets Manager) and a read replica for DATABASE_READ_URL. The
# guide's `aws rds modify-db-instance --db-instance-identifier claude-flow-primary` and
# `create-db-instance-read-replica` name these identifiers.
variable "identifier" {
  type = string
}

variable "replica_identifier" {
  type    = string
  default = null
}

variable "instance_class" {
  type = string
}

variable "allocated_storage_gb" {
  type = number
}

variable "multi_az" {
  type = bool
}

variable "backup_retention_days" {
  type = number
}

variable "deletion_protection" {
  type = bool
}

variable "vpc_id" {
  type = string
}

variable "subnet_ids" {
  type = list(string)
}

variable "client_security_group" {
  description = "Security group of the pods' nodes, allowed to connect."
  type        = string
}

resource "aws_db_subnet_group" "this" {
  name       = var.identifier
  subnet_ids = var.subnet_ids
}

resource "aws_security_group" "db" {
  name   = "${var.identifier}-db"
  vpc_id = var.vpc_id

  ingress {
    description     = "PostgreSQL from the cluster"
    from_port       = 5432
    to_port         = 5432
    protocol        = "tcp"
    security_groups = [var.client_security_group]
  }
}

resource "aws_db_parameter_group" "this" {
  name   = "${var.identifier}-pg15"
  family = "postgres15"

  parameter {
    name         = "shared_preload_libraries"
    value        = "pg_stat_statements"
    apply_method = "pending-reboot"
  }

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
}

resource "aws_db_instance" "primary" {
  identifier     = var.identifier
  engine         = "postgres"
  engine_version = "15"
  instance_class = var.instance_class

  db_name                     = "claudeflow"
  username                    = "claudeflow"
  manage_master_user_password = true

  allocated_storage     = var.allocated_storage_gb
  max_allocated_storage = var.allocated_storage_gb * 10
  storage_type          = "gp3"
  storage_encrypted     = true

  multi_az               = var.multi_az
  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.db.id]
  parameter_group_name   = aws_db_parameter_group.this.name
  publicly_accessible    = false

  backup_retention_period   = var.backup_retention_days
  backup_window             = "01:00-01:45"
  maintenance_window        = "sun:04:30-sun:05:30"
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = false
  final_snapshot_identifier = "${var.identifier}-final"
  copy_tags_to_snapshot     = true

  performance_insights_enabled = true
  auto_minor_version_upgrade   = true
  apply_immediately            = false
}

resource "aws_db_instance" "replica" {
  count               = var.replica_identifier == null ? 0 : 1
  identifier          = var.replica_identifier
  replicate_source_db = aws_db_instance.primary.identifier
  instance_class      = var.instance_class

  storage_encrypted      = true
  vpc_security_group_ids = [aws_security_group.db.id]
  parameter_group_name   = aws_db_parameter_group.this.name
  publicly_accessible    = false
  skip_final_snapshot    = true

  performance_insights_enabled = true
  auto_minor_version_upgrade   = true
}

output "endpoint" {
  value = aws_db_instance.primary.endpoint
}

output "replica_endpoint" {
  value = one(aws_db_instance.replica[*].endpoint)
}

output "master_user_secret_arn" {
  value = aws_db_instance.primary.master_user_secret[0].secret_arn
}
