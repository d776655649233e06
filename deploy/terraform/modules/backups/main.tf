# The backup bucket (BACKUP_TARGET): versioned, encrypted with its own KMS key, no public access,
# TLS only. cfn backup prune keeps the retention; old versions of deleted or overwritten objects
# expire after 30 days. With existing_bucket (disaster recovery) nothing is created: the stack
# uses that bucket.
variable "name" {
  type = string
}

variable "existing_bucket" {
  type    = string
  default = null
}

variable "deletion_protection" {
  type = bool
}

data "aws_caller_identity" "this" {}

locals {
  create      = var.existing_bucket == null
  bucket_name = local.create ? "${var.name}-backups-${data.aws_caller_identity.this.account_id}" : var.existing_bucket
}

resource "aws_kms_key" "backups" {
  count               = local.create ? 1 : 0
  description         = "${var.name}: backup bucket"
  enable_key_rotation = true
}

resource "aws_s3_bucket" "this" {
  count         = local.create ? 1 : 0
  bucket        = local.bucket_name
  force_destroy = !var.deletion_protection
}

resource "aws_s3_bucket_versioning" "this" {
  count  = local.create ? 1 : 0
  bucket = aws_s3_bucket.this[0].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  count  = local.create ? 1 : 0
  bucket = aws_s3_bucket.this[0].id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.backups[0].arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  count                   = local.create ? 1 : 0
  bucket                  = aws_s3_bucket.this[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  count  = local.create ? 1 : 0
  bucket = aws_s3_bucket.this[0].id
  rule {
    id     = "noncurrent-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

data "aws_iam_policy_document" "tls_only" {
  count = local.create ? 1 : 0
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this[0].arn, "${aws_s3_bucket.this[0].arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  count  = local.create ? 1 : 0
  bucket = aws_s3_bucket.this[0].id
  policy = data.aws_iam_policy_document.tls_only[0].json
}

output "bucket_name" {
  value = local.bucket_name
}

output "bucket_arn" {
  value = "arn:aws:s3:::${local.bucket_name}"
}

output "kms_key_arn" {
  description = "The bucket's key (null for an existing bucket)."
  value       = one(aws_kms_key.backups[*].arn)
}
