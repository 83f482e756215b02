import DVS
import DVSAudio
import DVSCore
import DVSLearn
import Foundation

extension Site {
    /// The sample's decoded audio (interleaved float PCM).
    func decode(_ bytes: [UInt8]) throws -> DecodedAudio {
        do { return try bytes.withUnsafeBytes { try AudioDecoder.decode($0) } } catch {
            throw ServeError(500, "cannot decode the audio: \(error)", hint: "run 'dvs fsck' if the object may be damaged")
        }
    }

    /// `/sample?rev=R&path=P`: player, waveform and spectrogram per channel, labels, the
    /// transcript's words (coloured by confidence, clicking one seeks), history and models.
    func samplePage(_ q: [String: String]) throws -> String {
        let (rev, id, entry, facts) = try sample(q)
        let path = entry.path.string
        let transcode = !AudioWeb.browserPlays(facts)
        let audioURL = Query.url("/audio", [("rev", id.hex), ("path", path), ("as", transcode ? "wav" : nil)])
        var body = "<h1 class=mono>\(HTML.escape(path))</h1>"
        body +=
            "<p class=muted>in <a href=\"\(HTML.escape(Query.url("/snapshot", [("rev", rev)])))\">\(HTML.escape(rev))</a> <span class=mono>\(id.short)</span></p>"
        body +=
            "<div class=card><audio id=\"player\" controls preload=\"auto\" data-total=\"\(facts.duration)\" src=\"\(HTML.escape(audioURL))\"></audio>"
        if transcode {
            body +=
                "<div class=muted>\(HTML.escape(facts.container)) \(HTML.escape(facts.encoding)) is played as 16-bit PCM WAV, transcoded on the fly</div>"
        }
        let bytes = try repository.blob(entry.blob)
        let audio = try decode(bytes)
        body += AudioWeb.waveformSVG(pcm: audio.pcm, channelCount: audio.channelCount, duration: audio.duration)
        for ch in 0..<min(audio.channelCount, 2) {
            let src = Query.url("/spectrogram", [("rev", id.hex), ("path", path), ("channel", String(ch))])
            body += "<div class=muted>spectrogram, channel \(ch) (0–\(facts.sampleRate / 2000) kHz)</div>"
            body +=
                "<img class=\"spectrogram\" alt=\"spectrogram of channel \(ch)\" data-duration=\"\(audio.duration)\" src=\"\(HTML.escape(src))\">"
        }
        body += "</div>"
        body += "<div class=charts><div class=card><b>Audio</b><dl class=kv>"
        let peaks = facts.peak.map { String(format: "%.3f", $0) }.joined(separator: ", ")
        for (k, v) in [
            ("duration", HTML.seconds(facts.duration)), ("sample rate", "\(facts.sampleRate) Hz"), ("channels", "\(facts.channelCount)"),
            ("format", "\(facts.container) \(facts.encoding)"), ("peak", peaks), ("bytes", "\(entry.byteCount)"),
            ("sha256", entry.blob.hex),
        ] {
            body += "<dt>\(k)</dt><dd\(k == "sha256" ? " class=mono" : "")>\(HTML.escape(v))</dd>"
        }
        body += "</dl></div><div class=card><b>Labels</b>"
        let labels = entry.annotations?.labels ?? []
        if labels.isEmpty {
            body += "<p class=muted>no labels</p>"
        } else {
            body +=
                "<dl class=kv id=\"labels\">"
                + labels.map { "<dt>\(HTML.escape($0.name))</dt><dd>\(HTML.escape(HTML.text($0.value)))</dd>" }.joined() + "</dl>"
        }
        if let sources = entry.annotations?.sources, !sources.isEmpty {
            body += "<div class=muted>from \(sources.map(HTML.escape).joined(separator: ", "))</div>"
        }
        body += "</div></div>"
        body += try transcriptSection(entry)
        if let segments = entry.annotations?.segments, !segments.isEmpty {
            body +=
                "<h2>Segments</h2><table><tr><th class=num>start</th><th class=num>end</th><th>channel</th><th>source</th><th>labels</th></tr>"
            for s in segments {
                body +=
                    "<tr><td class=num><a href=\"#\" data-start=\"\(s.start)\">\(String(format: "%.2f", s.start))</a></td><td class=num>\(String(format: "%.2f", s.end))</td>"
                body += "<td>\(s.channel.map(String.init) ?? "")</td><td>\(HTML.escape(s.source))</td>"
                body +=
                    "<td>\(s.labels.map { "<span class=pill>\(HTML.escape($0.name))=\(HTML.escape(HTML.text($0.value)))</span>" }.joined())</td></tr>"
            }
            body += "</table>"
        }
        body += try historySection(id, entry.path)
        body += try modelsSection(entry)
        return HTML.page(title: path, revision: rev, body: body)
    }

    /// The Deepgram transcript: per channel, its words as spans coloured by confidence.
    func transcriptSection(_ entry: ManifestEntry) throws -> String {
        guard let t = entry.annotations?.transcript else { return "<h2>Transcript</h2><p class=muted>no transcript</p>" }
        var out = "<h2>Transcript</h2><p class=muted>\(HTML.escape(t.source))"
        if let c = t.confidence { out += String(format: " · confidence %.3f", c) }
        if let l = t.language { out += " · language \(HTML.escape(l))" }
        out += " · \(t.wordCount) words · word colour: red = low confidence, green = high; click a word to hear it</p>"
        let words = try t.words.map { try repository.words($0) } ?? []
        if words.isEmpty {
            return out + "<div class=card>\(HTML.escape(t.text))</div>"
        }
        let channels = Set(words.map(\.channel)).sorted()
        for ch in channels {
            out += "<div class=\"card words\" id=\"words-\(ch)\">" + (channels.count > 1 ? "<div class=muted>channel \(ch)</div>" : "")
            var speaker: Int? = nil
            for w in words where w.channel == ch {
                if w.speaker != speaker, let s = w.speaker {
                    out += (speaker == nil ? "" : "<br>") + "<span class=pill>speaker \(s)</span> "
                    speaker = s
                }
                let hue = Int(max(0, min(1, w.confidence)) * 120)
                out +=
                    "<span class=\"w\" style=\"background:hsl(\(hue),75%,86%)\" title=\"\(String(format: "%.2f–%.2f s, confidence %.3f", w.start, w.end, w.confidence))\" data-start=\"\(w.start)\" data-end=\"\(w.end)\">\(HTML.escape(w.text))</span> "
            }
            out += "</div>"
        }
        return out
    }

    /// The commits (newest 300 from `commit`) whose change touched `path`'s audio or labels,
    /// following renames as `git log --follow` does: where the path first appears (against the
    /// first parent) and a path with the same audio left in the same commit, that is a rename
    /// (of the leaving path with the same labels, if several) and that commit's first parent and
    /// its ancestors are searched under the old name; each commit keeps the name its child
    /// passed down, so a rename on a merged branch is followed on that branch. A label change
    /// shows each field as `field: old → new`.
    func historySection(_ commit: CommitID, _ path: RepoPath) throws -> String {
        var rows: [(CommitID, Commit, String)] = []
        var nameAt: [CommitID: RepoPath] = [commit: path]
        for (id, c) in try repository.log(from: commit, limit: 300) {
            let current = nameAt[id] ?? path
            var older = current  // the name in the first parent
            defer {
                for (i, p) in c.parents.enumerated() where nameAt[p] == nil { nameAt[p] = i == 0 ? older : current }
            }
            guard let parent = c.parents.first else {
                // A root commit: the path looked up in its snapshot; the others compare chunk ids
                // with their parent and decode the leaves that differ.
                if try repository.entries(at: [current], of: id)[current] != nil { rows.append((id, c, "added")) }
                continue
            }
            let changed = try repository.snapshots.differingEntries(repository.commit(parent).manifest, c.manifest)
            let before = changed.old.first { $0.path == current }
            let after = changed.new.first { $0.path == current }
            switch (before, after) {
            case (nil, nil): continue
            case (nil, let a?):
                let stayed = Set(changed.new.map(\.path))
                let left = changed.old.filter { $0.blob == a.blob && !stayed.contains($0.path) }
                if let from = left.first(where: { $0.annotations?.labels == a.annotations?.labels }) ?? left.first {
                    var what = "renamed from \(from.path.string)"
                    if from.annotations?.labels != a.annotations?.labels {
                        what += "; labels: " + Self.labelChanges(from.annotations?.labels ?? [], a.annotations?.labels ?? [])
                    }
                    rows.append((id, c, what))
                    older = from.path
                } else {
                    rows.append((id, c, "added"))
                }
            case (_?, nil): rows.append((id, c, "removed"))
            case (let b?, let a?):
                var what: [String] = []
                if b.blob != a.blob { what.append("audio changed") }
                if b.annotations?.labels != a.annotations?.labels {
                    what.append("labels: " + Self.labelChanges(b.annotations?.labels ?? [], a.annotations?.labels ?? []))
                }
                if b.annotations?.transcript != a.annotations?.transcript { what.append("transcript changed") }
                if b.annotations?.segments != a.annotations?.segments { what.append("segments changed") }
                if !what.isEmpty { rows.append((id, c, what.joined(separator: "; "))) }
            }
        }
        guard !rows.isEmpty else { return "<h2>History</h2><p class=muted>no commit changed it</p>" }
        var out = "<h2>History</h2><table id=\"history\"><tr><th>commit</th><th>change</th><th>message</th><th>date</th></tr>"
        for (id, c, what) in rows {
            let link =
                c.parents.first.map { Query.url("/diff", [("a", $0.hex), ("b", id.hex)]) } ?? Query.url("/snapshot", [("rev", id.hex)])
            out += "<tr><td class=mono><a href=\"\(HTML.escape(link))\">\(id.short)</a></td><td>\(HTML.escape(what))</td>"
            out += "<td>\(HTML.escape(c.message.split(separator: "\n").first.map(String.init) ?? ""))</td>"
            out += "<td class=muted>\(Self.dateFormat(Date(timeIntervalSince1970: TimeInterval(c.author.time))))</td></tr>"
        }
        return out + "</table>"
    }

    /// The fields that differ between two label lists, as `field: old → new` joined by `, `
    /// (`∅` for a field one side lacks), in field-name order.
    static func labelChanges(_ old: [LabelField], _ new: [LabelField]) -> String {
        let a = Dictionary(old.map { ($0.name, $0.value) }, uniquingKeysWith: { x, _ in x })
        let b = Dictionary(new.map { ($0.name, $0.value) }, uniquingKeysWith: { x, _ in x })
        return Set(a.keys).union(b.keys).sorted().compactMap { k in
            a[k] == b[k] ? nil : "\(k): \(HTML.text(a[k])) → \(HTML.text(b[k]))"
        }.joined(separator: ", ")
    }

    /// Models whose training snapshot held this audio, and models evaluated on a snapshot that does.
    func modelsSection(_ entry: ManifestEntry) throws -> String {
        let trained = try repository.auditSamples("sha256 = '\(entry.blob.hex)'")
        var evaluated: [(String, String, Int)] = []
        for (mid, record) in try repository.modelRecords() {
            for e in try repository.catalog.evals(of: mid).suffix(10) {
                let r = try repository.evalRecord(e)
                guard repository.objects.contains(r.snapshot.object),
                    try entries(r.snapshot).values.contains(where: { $0.blob == entry.blob })
                else { continue }
                evaluated.append((record.name, r.revision + "@" + r.snapshot.short, r.sampleCount))
            }
        }
        var out = "<h2>Models</h2>"
        if trained.isEmpty && evaluated.isEmpty { return out + "<p class=muted>no model was trained or evaluated on it</p>" }
        if !trained.isEmpty {
            out += "<p>Trained on a snapshot that holds it:</p><ul id=\"trained\">"
            for h in trained {
                let split = h.trained.map { $0 > 0 ? " (fitted on it)" : " (held out)" } ?? ""
                out +=
                    "<li><a href=\"/models#\(h.id.short)\">\(HTML.escape(h.record.name))</a> · \(HTML.escape(h.record.revision))@\(h.record.snapshot.short)\(split)</li>"
            }
            out += "</ul>"
        }
        if !evaluated.isEmpty {
            out += "<p>Evaluated on a snapshot that holds it:</p><ul id=\"evaluated\">"
            for (name, where_, n) in evaluated { out += "<li>\(HTML.escape(name)) · \(HTML.escape(where_)) · \(n) samples</li>" }
            out += "</ul>"
        }
        return out
    }

    /// `/audio?rev=R&path=P[&as=wav]`: the sample's original bytes (or 16-bit PCM WAV with
    /// `as=wav`), honouring one byte range (206, or 416 when it lies past the end).
    /// - Throws: `ServeError` 400 when `as` names another format than `wav`.
    func audio(_ q: [String: String], range: String?) throws -> Reply {
        if let format = q["as"], format != "wav" {
            throw ServeError(
                400, "cannot serve the audio as '\(format)': the only conversion is as=wav (16-bit PCM WAV)",
                hint: "leave out as= for the stored bytes, or ask for as=wav")
        }
        let (_, _, entry, facts) = try sample(q)
        let bytes: [UInt8]
        let type: String
        if q["as"] == "wav" {
            bytes = try transcoded(entry)
            type = "audio/wav"
        } else {
            bytes = try repository.blob(entry.blob)
            type = AudioWeb.mimeType(facts)
        }
        var headers = [
            ("Accept-Ranges", "bytes"), ("ETag", "\"\(entry.blob.hex)\(q["as"] == "wav" ? "-wav" : "")\""),
            ("Cache-Control", "private, max-age=3600"),
        ]
        switch AudioWeb.range(range, length: bytes.count) {
        case .whole:
            return Reply(status: 200, contentType: type, body: bytes, headers: headers)
        case .part(let a, let b):
            headers.append(("Content-Range", "bytes \(a)-\(b)/\(bytes.count)"))
            return Reply(status: 206, contentType: type, body: Array(bytes[a...b]), headers: headers)
        case .unsatisfiable:
            headers.append(("Content-Range", "bytes */\(bytes.count)"))
            return Reply(
                status: 416, contentType: "text/plain; charset=utf-8",
                body: Array("range not satisfiable: the audio has \(bytes.count) bytes\n".utf8), headers: headers)
        }
    }

    /// The sample as 16-bit PCM WAV, from a cache of the last eight.
    func transcoded(_ entry: ManifestEntry) throws -> [UInt8] {
        if let hit = cachedWAV(entry.blob) { return hit }
        let audio = try decode(try repository.blob(entry.blob))
        let wav = AudioWeb.wav(pcm: audio.pcm, sampleRate: audio.sampleRate, channelCount: audio.channelCount)
        storeWAV(entry.blob, wav)
        return wav
    }

    /// `/spectrogram?rev=R&path=P&channel=N`: one channel's spectrogram as a BMP image.
    func spectrogram(_ q: [String: String]) throws -> Reply {
        let (_, _, entry, _) = try sample(q)
        let audio = try decode(try repository.blob(entry.blob))
        let ch = Int(q["channel"] ?? "0") ?? -1
        guard ch >= 0, ch < audio.channelCount else {
            throw ServeError(
                404, "no channel '\(q["channel"] ?? "")': the sample has \(counted(audio.channelCount, "channel")), numbered from 0")
        }
        let mono = stride(from: ch, to: audio.pcm.count, by: audio.channelCount).map { audio.pcm[$0] }
        let s = try Spectrogram(samples: mono, sampleRate: audio.sampleRate, windowSize: 512, maxFrames: 600)
        return Reply(
            status: 200, contentType: "image/bmp", body: AudioWeb.bmp(frames: s.frames),
            headers: [("Cache-Control", "private, max-age=3600")])
    }
}
