import DVSTestSupport
import Foundation

@testable import DVSRemote

/// What the remote tests add to DVSTestSupport's `MotoServer` (which stays Foundation-only).
extension MotoServer {
    /// Any key works while moto does not enforce auth.
    static let anyCredentials = AWSCredentials(accessKeyID: "AKIATESTMOTO0000", secretAccessKey: "motoSecret")

    /// A client on this server for `bucket`.
    func client(
        bucket: String, credentials: AWSCredentials = MotoServer.anyCredentials,
        policy: TransferPolicy = TransferPolicy(maxAttempts: 3, initialBackoff: 0.05, stallTimeout: 30)
    ) -> S3Client {
        S3Client(bucket: bucket, region: "us-east-1", endpoint: endpoint, addressing: .path, credentials: credentials, policy: policy)
    }
}
