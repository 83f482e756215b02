import DVSCore
import Foundation

extension Repository {
    /// Corrects, in place, the transcript summaries of `entries` read from an older repository
    /// whose speaker count spanned channels (``TranscriptSummary/speakersCountedAcrossChannels``):
    /// the count becomes distinct (channel, speaker) pairs of the stored words. Only
    /// multichannel diarized responses are affected; other entries are untouched.
    /// - Throws: `DVSError.corrupt` when a words object is missing or damaged.
    /// - Complexity: O(words) of the affected summaries.
    func recountSpeakers(_ entries: inout [ManifestEntry]) throws {
        for i in entries.indices {
            guard var t = entries[i].annotations?.transcript, t.speakersCountedAcrossChannels else { continue }
            if let id = t.words { t.recountSpeakers(try words(id)) } else { t.recountSpeakers([]) }
            entries[i].annotations!.transcript = t
        }
    }
}
