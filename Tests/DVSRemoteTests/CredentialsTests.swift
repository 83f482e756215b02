import DVSTestSupport
import Foundation
import Testing

@testable import DVSRemote

@Suite struct CredentialsTests {
    static let credentialsFile = """
        # comment
        [default]
        aws_access_key_id = AKIADEFAULT
        aws_secret_access_key = defaultSECRET/xyz

        [ci]
        aws_access_key_id=AKIACI
        aws_secret_access_key=ciSECRET
        aws_session_token = ciTOKEN

        [broken]
        aws_access_key_id = AKIABROKEN
        """
    static let configFile = """
        [default]
        region = eu-west-1
        [profile ci]
        region = ap-south-1
        s3 =
          max_concurrent_requests = 4
        """

    func withAWSFiles<T>(_ body: ([String: String]) throws -> T) throws -> T {
        try TestSupport.withTemporaryDirectory { dir in
            try FileManager.default.createDirectory(atPath: dir + "/home/.aws", withIntermediateDirectories: true)
            try Self.credentialsFile.write(toFile: dir + "/home/.aws/credentials", atomically: true, encoding: .utf8)
            try Self.configFile.write(toFile: dir + "/home/.aws/config", atomically: true, encoding: .utf8)
            return try body(["HOME": dir + "/home"])
        }
    }

    @Test func environmentWins() throws {
        try withAWSFiles { env in
            var env = env
            env["AWS_ACCESS_KEY_ID"] = "AKIAENV"
            env["AWS_SECRET_ACCESS_KEY"] = "envSECRET"
            env["AWS_SESSION_TOKEN"] = "envTOKEN"
            let c = try AWSCredentials.resolve(environment: env)
            #expect(
                c == AWSCredentials(accessKeyID: "AKIAENV", secretAccessKey: "envSECRET", sessionToken: "envTOKEN", source: "environment"))
        }
    }

    @Test func defaultAndNamedProfiles() throws {
        try withAWSFiles { env in
            let d = try AWSCredentials.resolve(environment: env)
            #expect(d.accessKeyID == "AKIADEFAULT" && d.secretAccessKey == "defaultSECRET/xyz" && d.sessionToken == nil)
            #expect(d.source.hasSuffix(".aws/credentials [default]"))
            var ci = env
            ci["AWS_PROFILE"] = "ci"
            let c = try AWSCredentials.resolve(environment: ci)
            #expect(c.accessKeyID == "AKIACI" && c.secretAccessKey == "ciSECRET" && c.sessionToken == "ciTOKEN")
            #expect(AWSCredentials.region(environment: env) == "eu-west-1")
            #expect(AWSCredentials.region(environment: ci) == "ap-south-1")
            ci["AWS_DEFAULT_REGION"] = "us-west-2"
            #expect(AWSCredentials.region(environment: ci) == "us-west-2")
            ci["AWS_REGION"] = "ca-central-1"
            #expect(AWSCredentials.region(environment: ci) == "ca-central-1")
            #expect(AWSCredentials.region(environment: ["HOME": "/nonexistent"]) == "us-east-1")
        }
    }

    @Test func sharedCredentialsFileVariable() throws {
        try TestSupport.withTemporaryDirectory { dir in
            try "[default]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = otherSECRET\n"
                .write(toFile: dir + "/creds", atomically: true, encoding: .utf8)
            let c = try AWSCredentials.resolve(environment: ["HOME": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": dir + "/creds"])
            #expect(c.accessKeyID == "AKIAOTHER")
            // `~` is HOME of the environment passed in, never the process's home folder.
            let tilde = try AWSCredentials.resolve(environment: ["HOME": dir, "AWS_SHARED_CREDENTIALS_FILE": "~/creds"])
            #expect(tilde.source == dir + "/creds [default]")
        }
    }

    @Test func withoutHomeOnlyTheVariablesOrNamedFilesCount() throws {
        let none = #expect(throws: RemoteError.self) { try AWSCredentials.resolve(environment: [:]) }
        #expect(none?.code == .credentialsMissing)
        #expect(none?.message.contains("neither HOME nor AWS_SHARED_CREDENTIALS_FILE is set") == true)
        let keys = try AWSCredentials.resolve(environment: ["AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "s"])
        #expect(keys.source == "environment")
        #expect(AWSCredentials.region(environment: [:]) == "us-east-1")
    }

    @Test func errorsNameTheSourceAndWhatToSet() throws {
        try withAWSFiles { env in
            var e = env
            e["AWS_PROFILE"] = "nope"
            let missing = #expect(throws: RemoteError.self) { try AWSCredentials.resolve(environment: e) }
            #expect(missing?.code == .credentialsMissing)
            #expect(missing?.message.contains("profile 'nope'") == true)
            #expect(missing?.message.contains(".aws/credentials") == true)
            #expect(missing?.hint?.contains("AWS_ACCESS_KEY_ID") == true)
            e["AWS_PROFILE"] = "broken"
            let broken = #expect(throws: RemoteError.self) { try AWSCredentials.resolve(environment: e) }
            #expect(broken?.message.contains("lacks aws_access_key_id or aws_secret_access_key") == true)
            let half = #expect(throws: RemoteError.self) { try AWSCredentials.resolve(environment: ["AWS_ACCESS_KEY_ID": "AKIA"]) }
            #expect(half?.message == "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set")
            let none = #expect(throws: RemoteError.self) { try AWSCredentials.resolve(environment: ["HOME": "/nonexistent"]) }
            #expect(none?.message.contains("cannot be read") == true)
        }
    }

    @Test func descriptionNeverShowsTheSecret() {
        let c = AWSCredentials(accessKeyID: "AKIAVISIBLE", secretAccessKey: "TOPSECRETvalue", sessionToken: "TOKENvalue")
        for text in [
            c.description, c.debugDescription, "\(c)", String(reflecting: c),
            {
                var s = ""
                dump(c, to: &s)
                return s
            }(),
        ] {
            #expect(text.contains("AKIAVISIBLE"))
            #expect(!text.contains("TOPSECRETvalue"), "leaked in: \(text)")
            #expect(!text.contains("TOKENvalue"), "leaked in: \(text)")
        }
    }

    @Test func remoteURLs() throws {
        #expect(try RemoteURL.parse("s3://my-bucket/datasets/voice/") == .s3(bucket: "my-bucket", prefix: "datasets/voice"))
        #expect(try RemoteURL.parse("s3://my-bucket") == .s3(bucket: "my-bucket", prefix: ""))
        #expect(try RemoteURL.parse("/mnt/share/x.dvs") == .path("/mnt/share/x.dvs"))
        #expect(try RemoteURL.parse("file:///mnt/share") == .path("/mnt/share"))
        #expect(try RemoteURL.parse("../remote", currentDirectory: "/home/u/repo") == .path("/home/u/remote"))
        for bad in ["", "http://example.com/x", "gs://b/p", "host:/srv/x", "s3://Bad_Bucket/x", "s3://ab"] {
            let e = #expect(throws: RemoteError.self, "\(bad)") { try RemoteURL.parse(bad) }
            #expect(e?.code == .invalidInput)
            #expect(e?.hint != nil)
        }
    }
}
