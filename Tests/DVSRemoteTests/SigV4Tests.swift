import Crypto
import Foundation
import Testing

@testable import DVSRemote

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The worked examples of "Authenticating Requests: Using the Authorization Header (AWS Signature
/// Version 4)", <https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html>,
/// and of "Create a signed AWS API request" in the IAM user guide.
@Suite struct SigV4Tests {
    static let s3Credentials = AWSCredentials(
        accessKeyID: "AKIAIOSFODNN7EXAMPLE",
        secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    static let date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z
    let signer = SigV4Signer(credentials: SigV4Tests.s3Credentials, region: "us-east-1", service: "s3")

    func request(_ method: String, _ url: String, _ headers: [String: String]) -> URLRequest {
        var r = URLRequest(url: URL(string: url)!)
        r.httpMethod = method
        for (k, v) in headers { r.setValue(v, forHTTPHeaderField: k) }
        return r
    }

    @Test func dateFormat() {
        #expect(SigV4Signer.amzDate(Self.date) == "20130524T000000Z")
    }

    @Test func getObjectExample() {
        var r = request("GET", "https://examplebucket.s3.amazonaws.com/test.txt", ["Range": "bytes=0-9"])
        let s = signer.sign(&r, payloadHash: SigV4Signer.emptyPayloadHash, date: Self.date)
        #expect(
            s.canonicalRequest == """
                GET
                /test.txt

                host:examplebucket.s3.amazonaws.com
                range:bytes=0-9
                x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                x-amz-date:20130524T000000Z

                host;range;x-amz-content-sha256;x-amz-date
                e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
                """)
        #expect(
            s.stringToSign == """
                AWS4-HMAC-SHA256
                20130524T000000Z
                20130524/us-east-1/s3/aws4_request
                7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972
                """)
        #expect(s.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(
            r.value(forHTTPHeaderField: "Authorization")
                == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        )
    }

    @Test func putObjectExample() {
        let body = Data("Welcome to Amazon S3.".utf8)
        let hash = SigV4Signer.payloadHash(body)
        #expect(hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let key = SigV4Signer.uriEncode("test$file.text", encodeSlash: false)
        #expect(key == "test%24file.text")
        var r = request(
            "PUT", "https://examplebucket.s3.amazonaws.com/\(key)",
            ["Date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY"])
        let s = signer.sign(&r, payloadHash: hash, date: Self.date)
        #expect(s.signedHeaders == "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class")
        #expect(s.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test func getBucketLifecycleExample() {
        var r = request("GET", "https://examplebucket.s3.amazonaws.com/?lifecycle", [:])
        let s = signer.sign(&r, payloadHash: SigV4Signer.emptyPayloadHash, date: Self.date)
        #expect(s.canonicalRequest.split(separator: "\n", omittingEmptySubsequences: false)[2] == "lifecycle=")
        #expect(s.signature == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    @Test func listObjectsExample() {
        var r = request("GET", "https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J", [:])
        let s = signer.sign(&r, payloadHash: SigV4Signer.emptyPayloadHash, date: Self.date)
        #expect(s.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    /// IAM `ListUsers`, the general SigV4 example (no `x-amz-content-sha256` header).
    @Test func iamListUsersExample() {
        let creds = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
        let iam = SigV4Signer(credentials: creds, region: "us-east-1", service: "iam")
        var r = request(
            "GET", "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
            ["Content-Type": "application/x-www-form-urlencoded; charset=utf-8"])
        let s = iam.sign(
            &r, payloadHash: SigV4Signer.emptyPayloadHash, date: Date(timeIntervalSince1970: 1_440_938_160),
            contentHashHeader: false)
        #expect(s.signedHeaders == "content-type;host;x-amz-date")
        #expect(s.signature == "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
    }

    @Test func signingKeyExample() {
        let k = SigV4Signer.signingKey(
            secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", day: "20120215",
            region: "us-east-1", service: "iam")
        #expect(k.withUnsafeBytes { SigV4Signer.hex($0) } == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d")
    }

    @Test func sessionTokenIsSignedAndUnsignedPayloadIsAccepted() {
        var creds = Self.s3Credentials
        creds.sessionToken = "TOKEN/with+chars"
        let signer = SigV4Signer(credentials: creds, region: "eu-west-1")
        var r = request("PUT", "http://127.0.0.1:9000/bucket/a%20b/c", [:])
        let s = signer.sign(&r, payloadHash: SigV4Signer.unsignedPayload, date: Self.date)
        #expect(r.value(forHTTPHeaderField: "x-amz-security-token") == "TOKEN/with+chars")
        #expect(r.value(forHTTPHeaderField: "x-amz-content-sha256") == "UNSIGNED-PAYLOAD")
        #expect(s.signedHeaders == "host;x-amz-content-sha256;x-amz-date;x-amz-security-token")
        #expect(s.canonicalRequest.hasPrefix("PUT\n/bucket/a%20b/c\n\nhost:127.0.0.1:9000\n"))
        #expect(s.canonicalRequest.hasSuffix("\nUNSIGNED-PAYLOAD"))
        #expect(!s.authorization.contains(creds.secretAccessKey))
    }

    @Test func uriEncoding() {
        #expect(SigV4Signer.uriEncode("a b+c/d~e_f.g-h", encodeSlash: false) == "a%20b%2Bc/d~e_f.g-h")
        #expect(SigV4Signer.uriEncode("a/b=c") == "a%2Fb%3Dc")
        #expect(SigV4Signer.uriEncode("é") == "%C3%A9")
        #expect(SigV4Signer.canonicalQuery("prefix=a%2Fb&list-type=2&uploads") == "list-type=2&prefix=a%2Fb&uploads=")
        #expect(SigV4Signer.canonicalQuery("token=a+b%3D") == "token=a%2Bb%3D")
    }
}
