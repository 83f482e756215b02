import DVSCore
/// Deepgram `/v1/listen` responses as transcription sidecars. (stub; replaced by the real parser)
public enum DeepgramSidecar {
    /// Whether a parsed JSON object looks like a Deepgram pre-recorded response (`metadata` and `results.channels`).
    public static func looksLikeResponse(_ object: [String: Any]) -> Bool { object["metadata"] is [String: Any] && (object["results"] as? [String: Any])?["channels"] is [Any] }
    /// Parses a response and checks it against the audio it is attached to.
    /// - Returns: the summary, the words, and findings (file = `path`).
    public static func parse(_ bytes: [UInt8], path: String, audio: LabelTreeFile?) -> (summary: TranscriptSummary?, words: [TranscriptWord], findings: [LabelFinding]) { (nil, [], []) }
    /// The `metadata.sha256` of a response, lower-case hex, if present.
    public static func declaredSHA256(_ object: [String: Any]) -> String? { (object["metadata"] as? [String: Any])?["sha256"] as? String }
}
