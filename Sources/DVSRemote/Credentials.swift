import Foundation

/// An AWS access key pair, optionally with a session token, and where it came from.
///
/// `description`, `debugDescription` and the reflection mirror never contain the secret or the
/// session token, so credentials can be logged or interpolated into error messages safely.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The access key id (`AKIA…`); not secret, named in error messages.
    public var accessKeyID: String
    /// The secret access key. Never printed.
    public var secretAccessKey: String
    /// The STS session token for temporary credentials (`x-amz-security-token`). Never printed.
    public var sessionToken: String?
    /// Where the keys were read: `environment` or `<file> [profile]`.
    public var source: String

    /// Creates credentials from known values.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, source: String = "explicit") {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.source = source
    }

    public var description: String {
        "AWSCredentials(accessKeyID: \(accessKeyID), secretAccessKey: <redacted>\(sessionToken == nil ? "" : ", sessionToken: <redacted>"), source: \(source))"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror {
        Mirror(self, children: ["accessKeyID": accessKeyID, "secretAccessKey": "<redacted>", "source": source])
    }

    /// Resolves credentials the way the AWS CLI does, first match wins:
    ///
    /// 1. `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN` if set);
    /// 2. the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`),
    ///    section `[<AWS_PROFILE>]` (default `default`), keys `aws_access_key_id`,
    ///    `aws_secret_access_key`, `aws_session_token`.
    ///
    /// See "Configuration and credential file settings" and "Environment variables to configure
    /// the AWS CLI" (<https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-files.html>,
    /// <https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-envvars.html>).
    ///
    /// Nothing is read from the process itself: `~` is `HOME` of `environment`. Without `HOME`
    /// (and without `AWS_SHARED_CREDENTIALS_FILE`) there is no shared credentials file to read, so
    /// only the two key variables can supply credentials; a `~/` path in
    /// `AWS_SHARED_CREDENTIALS_FILE` is then taken as written.
    /// - Parameter environment: the process environment (injectable for tests); `HOME` locates `~`.
    /// - Throws: `RemoteError` with code `.credentialsMissing` naming every source tried and what to set;
    ///   only one of the two key variables set, or a profile missing a key, is also that error.
    public static func resolve(environment env: [String: String]) throws -> AWSCredentials {
        let id = env["AWS_ACCESS_KEY_ID"].flatMap { $0.isEmpty ? nil : $0 }
        let secret = env["AWS_SECRET_ACCESS_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        let token = env["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        switch (id, secret) {
        case (let id?, let secret?):
            return AWSCredentials(accessKeyID: id, secretAccessKey: secret, sessionToken: token, source: "environment")
        case (.some, nil), (nil, .some):
            throw RemoteError(
                .credentialsMissing,
                "only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set",
                hint: "set both, or unset both to use the profile in ~/.aws/credentials")
        case (nil, nil): break
        }
        let profile = env["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        guard let file = sharedFile(env, variable: "AWS_SHARED_CREDENTIALS_FILE", name: "credentials") else {
            throw RemoteError(
                .credentialsMissing,
                "no AWS credentials found (tried AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY; no shared credentials file, as neither HOME nor AWS_SHARED_CREDENTIALS_FILE is set)",
                hint: "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or point AWS_SHARED_CREDENTIALS_FILE (or HOME) at the credentials")
        }
        let tried = "tried AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY and profile '\(profile)' in '\(file)'"
        let hint =
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or add [\(profile)] with aws_access_key_id and aws_secret_access_key to '\(file)' (or pick another profile with AWS_PROFILE)"
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw RemoteError(.credentialsMissing, "no AWS credentials found (\(tried); the file cannot be read)", hint: hint)
        }
        guard let section = INI.parse(text)[profile] else {
            throw RemoteError(.credentialsMissing, "no AWS credentials found (\(tried); the file has no [\(profile)] section)", hint: hint)
        }
        guard let pid = section["aws_access_key_id"], !pid.isEmpty,
            let psecret = section["aws_secret_access_key"], !psecret.isEmpty
        else {
            throw RemoteError(
                .credentialsMissing,
                "profile '\(profile)' in '\(file)' lacks aws_access_key_id or aws_secret_access_key", hint: hint)
        }
        return AWSCredentials(
            accessKeyID: pid, secretAccessKey: psecret, sessionToken: section["aws_session_token"],
            source: "\(file) [\(profile)]")
    }

    /// The region to use: `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `region` in the config
    /// file (`AWS_CONFIG_FILE`, default `~/.aws/config`) under `[profile <AWS_PROFILE>]` (or
    /// `[default]` for the default profile), else `us-east-1`. `~` is `HOME` of `environment`;
    /// without `HOME` (and without `AWS_CONFIG_FILE`) no config file is read.
    /// - Parameter environment: the process environment (injectable for tests).
    public static func region(environment env: [String: String]) -> String {
        for name in ["AWS_REGION", "AWS_DEFAULT_REGION"] {
            if let r = env[name], !r.isEmpty { return r }
        }
        let profile = env["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        if let file = sharedFile(env, variable: "AWS_CONFIG_FILE", name: "config"),
            let text = try? String(contentsOfFile: file, encoding: .utf8)
        {
            let ini = INI.parse(text)
            let section = profile == "default" ? (ini["default"] ?? ini["profile default"]) : ini["profile \(profile)"]
            if let r = section?["region"], !r.isEmpty { return r }
        }
        return "us-east-1"
    }

    /// The shared file `variable` names (a leading `~` or `~/` is `HOME` of `env`), else
    /// `$HOME/.aws/<name>`; nil when neither `variable` nor `HOME` is set. The process's own
    /// home folder is never consulted.
    private static func sharedFile(_ env: [String: String], variable: String, name: String) -> String? {
        let home = env["HOME"].flatMap { $0.isEmpty ? nil : $0 }
        if let f = env[variable], !f.isEmpty {
            guard let home, f == "~" || f.hasPrefix("~/") else { return f }
            return home + f.dropFirst()
        }
        return home.map { "\($0)/.aws/\(name)" }
    }
}

/// The INI dialect of the AWS shared files: `[section]` headers, `key = value` lines, `#` and `;`
/// comment lines; keys are lower-cased, whitespace around keys and values trimmed. Nested
/// (indented) sub-settings are ignored.
enum INI {
    static func parse(_ text: String) -> [String: [String: String]] {
        var out: [String: [String: String]] = [:]
        var current: String?
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            if raw.first == " " || raw.first == "\t" { continue }
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                let name = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                let collapsed = name.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
                current = collapsed
                if out[collapsed] == nil { out[collapsed] = [:] }
                continue
            }
            guard let section = current, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            out[section]?[key] = value
        }
        return out
    }
}
