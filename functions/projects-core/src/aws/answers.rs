//! Test support: error answers as each AWS protocol writes them on the wire, so mocked clients go through
//! the SDK's real deserializers and retry classifiers (`aws-smithy-mocks` `http_status`).
#![cfg(test)]

/// A JSON-protocol error (SageMaker, CodeBuild, SQS): `{"__type": code, "message": …}`.
pub fn json_error(status: u16, code: &str, message: &str) -> (u16, Option<String>) {
    (
        status,
        Some(format!(r#"{{"__type":"{code}","message":"{message}"}}"#)),
    )
}

/// A query-protocol error (IAM).
pub fn iam_error(status: u16, code: &str, message: &str) -> (u16, Option<String>) {
    (
        status,
        Some(format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>\
             </Error><RequestId>r-1</RequestId></ErrorResponse>"
        )),
    )
}

/// A REST-XML error (S3).
pub fn s3_error(status: u16, code: &str, message: &str) -> (u16, Option<String>) {
    (
        status,
        Some(format!(
            "<Error><Code>{code}</Code><Message>{message}</Message><RequestId>r-1</RequestId></Error>"
        )),
    )
}
