"""The template bucket as the bootstrap stack creates it (infra/bootstrap.yaml): versioned, encrypted,
public access blocked, CORS for Studio, EventBridge notifications on."""

STUDIO_CORS = {
    "CORSRules": [
        {
            "AllowedOrigins": ["https://*.sagemaker.aws"],
            "AllowedMethods": ["GET", "PUT", "POST", "HEAD", "DELETE"],
            "AllowedHeaders": ["*"],
            "ExposeHeaders": ["ETag", "x-amz-delete-marker", "x-amz-id-2", "x-amz-request-id",
                              "x-amz-server-side-encryption", "x-amz-version-id"],
        }
    ]
}


def create_template_bucket(s3, name: str) -> str:
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    s3.put_bucket_cors(Bucket=name, CORSConfiguration=STUDIO_CORS)
    s3.put_bucket_notification_configuration(Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}})
    return name


def object_tags(s3, bucket: str, key: str, version: str | None = None) -> dict:
    kwargs = {"VersionId": version} if version else {}
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key, **kwargs)["TagSet"]}
