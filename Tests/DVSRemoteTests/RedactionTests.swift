import Foundation
import Testing

@testable import DVSRemote

#if canImport(Glibc)
    import Glibc
#endif

/// No credential, session token or request signature appears in what dvs prints.
@Suite struct RedactionTests {
    static let token = "FQoGZXIvYXdzEXAMPLETOKENabc123+/="
    static let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

    @Test func signaturesTokensAndURLPasswordsAreReplaced() {
        let text = """
            Authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0123abcd
            x-amz-security-token: \(Self.token)
            X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA%2F2026
            <StringToSign>AWS4-HMAC-SHA256 secret stuff</StringToSign><SignatureProvided>abcdef</SignatureProvided>
            endpoint http://user:\(Self.secret)@127.0.0.1:9000/b
            """
        let r = Redaction.redact(text)
        for s in [Self.token, Self.secret, "0123abcd", "deadbeef", "AKIA%2F2026", "secret stuff", "abcdef", "AKIAEXAMPLE/2026"] {
            #expect(!r.contains(s), "\(s) in \(r)")
        }
        #expect(r.contains("x-amz-security-token: [redacted]"))
        #expect(r.contains("http://[redacted]@127.0.0.1:9000/b"))
        // Ordinary text is left alone.
        #expect(Redaction.redact("cannot write 's3://bucket/refs/main': it changed") == "cannot write 's3://bucket/refs/main': it changed")
    }

    @Test func urlsWithCredentialsAreRefusedWithoutShowingThem() {
        let e = Redaction.credentialsInURL("http://AKIA:\(Self.secret)@127.0.0.1:9000", what: "endpoint")
        #expect(e?.code == .invalidInput)
        #expect(e.map { !"\($0)".contains(Self.secret) } == true)
        #expect(e?.hint?.contains("AWS_ACCESS_KEY_ID") == true)
        #expect(Redaction.credentialsInURL("http://s3.example.com/a@b", what: "endpoint") == nil)
        #expect(throws: RemoteError.self) { try RemoteURL.parse("s3://key:\(Self.secret)@bucket") }
        // Secrets in a query string: a presigned URL, a token parameter.
        for url in [
            "https://s3.example.com/bucket?X-Amz-Credential=AKIA%2F20261203&X-Amz-Signature=\(Self.secret)",
            "http://127.0.0.1:9000?token=\(Self.secret)", "s3://bucket/prefix?aws_secret_access_key=\(Self.secret)",
        ] {
            let q = Redaction.credentialsInURL(url, what: "endpoint")
            #expect(q?.code == .invalidInput, "\(url)")
            #expect(q.map { !"\($0)".contains(Self.secret) } == true, "\(url)")
        }
        #expect(Redaction.credentialsInURL("http://127.0.0.1:9000/?region=us-east-1", what: "endpoint") == nil)
        // An '@' in the query of a plain host is no user:password (it was refused as one).
        #expect(Redaction.credentialsInURL("http://127.0.0.1:9000/?owner=ml@example.com", what: "endpoint") == nil)
        #expect(Redaction.credentialsInURL("http://127.0.0.1:9000/#a@b", what: "endpoint") != nil, "no '#' before an '@'")
        #expect(Redaction.credentialsInURL("http://AKIA:\(Self.secret)@127.0.0.1:9000/?x=1", what: "endpoint") != nil)
        #expect(Redaction.credentialsInURL("http://[::1]:9000/?owner=ml@example.com", what: "endpoint") == nil)
        #expect(Redaction.credentialsInURL("http://localhost:9000/?owner=ml@example.com", what: "endpoint") == nil)
        // A password holding '?' or '#' is still a password: refused and redacted (a password
        // of digits looked like a port).
        for url in [
            "http://AKIA:pa?ss\(Self.secret)@s3.example.com", "http://AKIA:pa#ss\(Self.secret)@127.0.0.1:9000",
            "http://admin:2024#\(Self.secret)@minio.local:9000", "http://admin:1234?\(Self.secret)@minio.local:9000",
            "http://AKIA:123/ab?\(Self.secret)@host", "s3://AKIA:1234#\(Self.secret)@bucket",
            "http://tok3nX9\(Self.secret.prefix(12))#x@host",
            "http://127.0.0.1:9000/?\(Self.secret)@host",
            // A second '@' after a plain query's, a fragment, ';' (the third review).
            "http://h.example.com/?a=b@x&n=http://user:\(Self.secret)@evil.com", "http://h.example.com/#X-Amz-Signature=\(Self.secret)",
            "http://h.example.com/?a=1;X-Amz-Signature=\(Self.secret)",
        ] {
            let e = Redaction.credentialsInURL(url, what: "endpoint")
            #expect(e?.code == .invalidInput, "\(url)")
            #expect(e.map { !"\($0)".contains(Self.secret.prefix(12)) } == true, "\(url)")
            #expect(!Redaction.redact("endpoint \(url)").contains(Self.secret.prefix(12)), "\(url)")
        }
    }

    /// An S3-compatible server whose error body echoes the request's headers: the error dvs
    /// reports holds neither the session token nor the signature.
    @Test func anEchoedRequestIsRedactedInTheError() throws {
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
        // Answers up to 4 requests (bounded), each with a 400 whose <Message> is the request's head.
        let server = Thread {
            for _ in 0..<4 {
                let c = accept(fd, nil, nil)
                guard c >= 0 else { return }
                var buffer = [UInt8](repeating: 0, count: 65536)
                var request = [UInt8]()
                while !request.ends(with: Array("\r\n\r\n".utf8)) {
                    let n = read(c, &buffer, buffer.count)
                    if n <= 0 { break }
                    request += buffer[0..<n]
                }
                let head = String(decoding: request, as: UTF8.self)
                    .replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                let body = "<?xml version=\"1.0\"?><Error><Code>InvalidRequest</Code><Message>bad request: \(head)</Message></Error>"
                let answer =
                    "HTTP/1.1 400 Bad Request\r\nContent-Type: application/xml\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
                _ = answer.withCString { write(c, $0, strlen($0)) }
                close(c)
            }
        }
        server.start()
        let credentials = AWSCredentials(accessKeyID: "AKIAECHO0000", secretAccessKey: Self.secret, sessionToken: Self.token)
        let client = S3Client(
            bucket: "b", region: "us-east-1", endpoint: URL(string: "http://127.0.0.1:\(port)")!, addressing: .path,
            credentials: credentials, policy: TransferPolicy(maxAttempts: 1, initialBackoff: 0.01))
        let e = #expect(throws: RemoteError.self) { try client.get("k") }
        let shown = e.map { "\($0) \($0.subject ?? "")" } ?? ""
        #expect(shown.contains("bad request"), "\(shown)")
        #expect(!shown.contains(Self.token) && !shown.contains(Self.secret), "\(shown)")
        #expect(!shown.contains("Signature=") || shown.contains("Signature=[redacted]"), "\(shown)")
        #expect(shown.lowercased().contains("x-amz-security-token: [redacted]"), "\(shown)")
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
