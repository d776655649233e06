module "network" {
  source = "./modules/network"

  name               = var.name
  cluster_name       = var.cluster_name
  vpc_cidr           = var.vpc_cidr
  availability_zones = var.availability_zones
}

module "eks" {
  source = "./modules/eks"

  name                = var.name
  cluster_name        = var.cluster_name
  kubernetes_version  = var.eks_version
  private_subnet_ids  = module.network.private_subnet_ids
  node_instance_types = var.node_instance_types
  node_min_size       = var.node_min_size
  node_max_size       = var.node_max_size
}

module "database" {
  source = "./modules/database"

  identifier            = var.db_identifier
  replica_identifier    = var.db_replica_identifier
  instance_class        = var.db_instance_class
  allocated_storage_gb  = var.db_allocated_storage_gb
  multi_az              = var.db_multi_az
  backup_retention_days = var.db_backup_retention_days
  deletion_protection   = var.deletion_protection
  vpc_id                = module.network.vpc_id
  subnet_ids            = module.network.private_subnet_ids
  client_security_group = module.eks.node_security_group_id
}

module "cache" {
  source = "./modules/cache"

  name                  = var.name
  node_type             = var.redis_node_type
  replicas              = var.redis_replicas
  vpc_id                = module.network.vpc_id
  subnet_ids            = module.network.private_subnet_ids
  client_security_group = module.eks.node_security_group_id
}

module "backups" {
  source = "./modules/backups"

  name                = var.name
  existing_bucket     = var.existing_backup_bucket
  deletion_protection = var.deletion_protection
}

module "irsa" {
  source = "./modules/irsa"

  name              = var.name
  cluster_name      = var.cluster_name
  oidc_provider_arn = module.eks.oidc_provider_arn
  oidc_provider_url = module.eks.oidc_provider_url
  k8s_namespace     = var.k8s_namespace
  backup_bucket_arn = module.backups.bucket_arn
}
