import DVSTestSupport
import Foundation
import Testing

@testable import DVSRemote

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Calls the IAM query API (<https://docs.aws.amazon.com/IAM/latest/APIReference/CommonParameters.html>)
/// on moto with a SigV4 POST signed for service `iam`; moto routes on the signature's scope.
func iamCall(_ moto: MotoServer, _ params: [(String, String)]) throws -> XMLElementNode {
    let all = params + [("Version", "2010-05-08")]
    let body = Data(all.map { "\(SigV4Signer.uriEncode($0.0))=\(SigV4Signer.uriEncode($0.1))" }.joined(separator: "&").utf8)
    var req = URLRequest(url: moto.endpoint.appendingPathComponent("/"))
    req.httpMethod = "POST"
    req.setValue("application/x-www-form-urlencoded; charset=utf-8", forHTTPHeaderField: "Content-Type")
    SigV4Signer(credentials: MotoServer.anyCredentials, region: "us-east-1", service: "iam")
        .sign(&req, payloadHash: SigV4Signer.payloadHash(body), contentHashHeader: false)
    let r = try HTTPTransport().run(req, body: body, stallTimeout: 30)
    guard r.status == 200, let root = XMLElementNode.parse(r.body) else {
        throw RemoteError(.server, "IAM \(params[0].1) failed: HTTP \(r.status) \(String(decoding: r.body, as: UTF8.self))")
    }
    return root
}

@Suite struct S3ErrorTests {
    /// moto enforces SigV4 after its first three requests; those create an IAM user with an
    /// access key and an s3:* policy. The contract's round trip then runs with that key, and a
    /// wrong secret is rejected with a message naming the key id but not the secret.
    @Test func authEnforcedByMoto() throws {
        try MotoServer.with(environment: ["INITIAL_NO_AUTH_ACTION_COUNT": "3"]) { moto in
            _ = try iamCall(moto, [("Action", "CreateUser"), ("UserName", "dvs-pusher")])
            let key = try iamCall(moto, [("Action", "CreateAccessKey"), ("UserName", "dvs-pusher")])
            let accessKey = try #require(key.child("CreateAccessKeyResult")?.child("AccessKey"))
            let creds = AWSCredentials(
                accessKeyID: try #require(accessKey.text("AccessKeyId")),
                secretAccessKey: try #require(accessKey.text("SecretAccessKey")), source: "test")
            let policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#
            _ = try iamCall(
                moto,
                [
                    ("Action", "PutUserPolicy"), ("UserName", "dvs-pusher"), ("PolicyName", "s3-all"),
                    ("PolicyDocument", policy),
                ])

            let client = moto.client(bucket: "dvs-auth", credentials: creds)
            try client.createBucket()
            try RemoteStoreContractTests.roundTrip(S3RemoteStore(client: client, prefix: "p"))

            var wrong = creds
            wrong.secretAccessKey = "not-the-secret-" + creds.secretAccessKey.prefix(4)
            let bad = S3RemoteStore(client: moto.client(bucket: "dvs-auth", credentials: wrong), prefix: "p")
            let e = #expect(throws: RemoteError.self) { try bad.put("objects/x", Data("x".utf8)) }
            #expect(e?.code == .credentialsRejected)
            #expect(e?.s3Code == "SignatureDoesNotMatch")
            #expect(e?.message.contains("rejected the credentials of access key '\(creds.accessKeyID)'") == true)
            #expect(e?.hint?.contains("AWS_PROFILE") == true)
            #expect(e.map { !"\($0)".contains(wrong.secretAccessKey) && !"\($0)".contains(creds.secretAccessKey) } == true)

            var unknown = creds
            unknown.accessKeyID = "AKIAUNKNOWN000000000"
            let e2 = #expect(throws: RemoteError.self) { try moto.client(bucket: "dvs-auth", credentials: unknown).get("p/objects/x") }
            #expect(e2?.code == .credentialsRejected)
            #expect(e2?.message.contains("AKIAUNKNOWN000000000") == true)
        }
    }

    @Test func noSuchBucketNamesTheBucket() throws {
        try MotoServer.with { moto in
            let e = #expect(throws: RemoteError.self) { try moto.client(bucket: "missing-bucket").put("k", Data()) }
            #expect(e?.code == .noSuchBucket)
            #expect(e?.message == "bucket 'missing-bucket' does not exist at '\(moto.endpoint.absoluteString)'")
        }
    }

    @Test func connectionRefusedNamesTheEndpoint() throws {
        let port = try MotoServer.freePort()
        let client = S3Client(
            bucket: "b", region: "us-east-1", endpoint: URL(string: "http://127.0.0.1:\(port)")!,
            credentials: MotoServer.anyCredentials, policy: TransferPolicy(maxAttempts: 2, initialBackoff: 0.01))
        let e = #expect(throws: RemoteError.self) { try client.get("k") }
        #expect(e?.code == .connection)
        #expect(e?.message == "cannot connect to S3 endpoint 'http://127.0.0.1:\(port)'")
    }

    /// A listener that accepts connections but never answers: every attempt stalls and is cancelled.
    @Test func stalledRequestsTimeOutAndAreRetried() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, len) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &len) == 0
            }
        }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        let client = S3Client(
            bucket: "b", region: "us-east-1", endpoint: URL(string: "http://127.0.0.1:\(port)")!,
            credentials: MotoServer.anyCredentials,
            policy: TransferPolicy(maxAttempts: 3, initialBackoff: 0.01, stallTimeout: 0.3))
        let start = Date()
        let e = #expect(throws: RemoteError.self) { try client.get("k") }
        let elapsed = Date().timeIntervalSince(start)
        #expect(e?.code == .timeout)
        #expect(e?.message.contains("stalled") == true)
        #expect(elapsed >= 0.9 && elapsed < 10, "three stalled attempts of 0.3 s each (took \(elapsed) s)")
    }

    /// An upload that keeps moving is not a stall: a reader taking 40 MiB at about 10 MiB/s keeps a
    /// 1.5 s watchdog quiet; only the silence after the body (no answer) trips it.
    @Test func slowUploadIsNotAStall() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, len) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &len) == 0
            }
        }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        let listener = fd
        Thread {
            let c = accept(listener, nil, nil)
            var buf = [UInt8](repeating: 0, count: 256 << 10)
            var total = 0
            while total < 40 << 20 {
                let n = recv(c, &buf, buf.count, 0)
                if n <= 0 { break }
                total += n
                usleep(25_000)
            }
            sleep(4)
            close(c)
        }.start()
        let client = S3Client(
            bucket: "b", region: "us-east-1", endpoint: URL(string: "http://127.0.0.1:\(port)")!,
            credentials: MotoServer.anyCredentials,
            policy: TransferPolicy(maxAttempts: 1, stallTimeout: 1.5))
        let start = Date()
        let e = #expect(throws: RemoteError.self) { try client.put("k", Data(count: 40 << 20)) }
        let elapsed = Date().timeIntervalSince(start)
        #expect(e?.code == .timeout)
        #expect(elapsed > 2.5, "the upload took seconds without tripping the 1.5 s stall timeout (took \(elapsed) s)")
    }

    @Test func errorBodiesAreParsed() {
        let root = XMLElementNode.parse(
            Data("<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>".utf8))
        #expect(root?.name == "Error" && root?.text("Code") == "SlowDown")
        #expect(RemoteError(.server, "x", httpStatus: 503, s3Code: "SlowDown").isRetryable)
        #expect(RemoteError(.server, "x", httpStatus: 400, s3Code: "SlowDown").isRetryable)
        #expect(!RemoteError(.server, "x", httpStatus: 400, s3Code: "InvalidArgument").isRetryable)
        #expect(!RemoteError.preconditionFailed("k").isRetryable)
        #expect(S3Client.unquote("\"abc\"") == "abc" && S3Client.unquote("abc") == "abc")
    }
}
