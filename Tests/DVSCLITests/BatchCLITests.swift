import DVSTestSupport
import Foundation
import Testing

/// `dvs batch` end to end on real audio (issue 17): the framing (a JSON header line, then exactly
/// `payload` bytes), the protocol check at `hello`, reads by path, index and in batches agreeing,
/// and errors carrying dvs's message and hint without ending the session. The Python package's
/// pytest suite (python/tests) covers the same protocol from the client's side.
@Suite struct BatchCLITests {
    /// Answers parsed from `dvs batch` output: each header with its payload.
    func answers(_ data: Data) throws -> [(header: [String: Any], payload: Data)] {
        var out: [(header: [String: Any], payload: Data)] = []
        var i = data.startIndex
        while i < data.endIndex {
            guard let nl = data[i...].firstIndex(of: 0x0A) else { throw TestError("a header line without a newline") }
            let header = try #require(try JSONSerialization.jsonObject(with: data[i..<nl]) as? [String: Any])
            let n = header["payload"] as? Int ?? 0
            let start = nl + 1
            guard start + n <= data.endIndex else { throw TestError("a payload shorter than its header says") }
            out.append((header, data[start..<start + n]))
            i = start + n
        }
        return out
    }

    func batch(_ lines: [String], in root: String) throws -> TestSupport.Result {
        try TestSupport.run(TestSupport.dvsBinary, ["batch"], in: root, stdin: Data((lines.joined(separator: "\n") + "\n").utf8))
    }

    @Test func readsAgreeAndErrorsKeepTheSessionGoing() throws {
        try TestSupport.withTemporaryDirectory { dir in
            let root = dir + "/data"
            try FileManager.default.createDirectory(atPath: root + "/clips", withIntermediateDirectories: true)
            let recordings = TestSupport.debianRecordings(limit: 4)
            try #require(recordings.count == 4)
            for (i, src) in recordings.enumerated() {
                try FileManager.default.copyItem(atPath: src, toPath: root + "/clips/\(i)." + (src as NSString).pathExtension)
            }
            try TestSupport.speak("two channels at eight kilohertz", to: root + "/clips/phone.wav", sampleRate: 8000, channels: 2)
            #expect(try TestSupport.dvs(["init"], in: root).status == 0)
            let c = try TestSupport.dvs(["commit", "-m", "recordings"], in: root)
            #expect(c.status == 0, "\(c.stderr)")

            let r = try batch(
                [
                    #"{"op":"hello","protocol":1}"#,
                    #"{"op":"open","rev":"HEAD","id":1}"#,
                    #"{"op":"read","rev":"HEAD","path":"clips/phone.wav"}"#,
                    #"{"op":"entries","rev":"HEAD"}"#,
                    #"{"op":"read","rev":"HEAD","path":"clips/nope.wav"}"#,
                    #"{"op":"open","rev":"no-such-branch"}"#,
                    #"{"op":"read","rev":"HEAD","index":99}"#,
                    #"{"op":"read_many","rev":"HEAD","indices":[4,0,4],"mono":true,"sample_rate":16000}"#,
                    #"{"op":"read","rev":"HEAD","path":"clips/phone.wav","mono":true,"sample_rate":16000}"#,
                    #"{"op":"query","rev":"HEAD","sql":"SELECT path, channels FROM sample ORDER BY path"}"#,
                    "not json",
                ], in: root)
            #expect(r.status == 0, "\(r.stderr)")
            let a = try answers(r.stdoutData)
            try #require(a.count == 13)
            #expect(a[0].header["protocol"] as? Int == 1 && a[0].header["dvs"] is String)
            #expect(a[1].header["samples"] as? Int == 5 && a[1].header["id"] as? Int == 1)
            // The stereo 8 kHz file, as stored: frames × channels float32 values.
            let phone = a[2].header
            #expect(phone["sample_rate"] as? Int == 8000 && phone["channels"] as? Int == 2 && phone["encoding"] as? String == "float32le")
            #expect((phone["frames"] as? Int ?? 0) * 2 * 4 == a[2].payload.count && a[2].payload.count > 8000)
            let paths = try #require((try JSONSerialization.jsonObject(with: a[3].payload) as? [String: Any])?["paths"] as? [String])
            #expect(paths.count == 5 && paths[4] == "clips/phone.wav")
            // Errors: kind, message naming the subject, a hint; the session goes on.
            for (i, kind, subject) in [
                (4, "sampleNotFound", "clips/nope.wav"), (5, "unknownRevision", "no-such-branch"), (6, "usage", "99"),
            ] {
                let e = try #require(a[i].header["error"] as? [String: Any])
                #expect(a[i].header["ok"] as? Bool == false && e["kind"] as? String == kind)
                #expect((e["message"] as? String ?? "").contains(subject) && e["hint"] is String, "\(e)")
            }
            // read_many: in the order asked, each the same bytes as a read of the same sample.
            #expect(a[7...9].map { $0.header["index"] as? Int } == [4, 0, 4])
            #expect(a[7].payload == a[9].payload && a[7].payload == a[10].payload)
            #expect(a[10].header["sample_rate"] as? Int == 16000 && a[10].header["channels"] as? Int == 1)
            #expect(a[11].header["columns"] as? [String] == ["path", "channels"] && a[11].header["rows"] as? Int == 5)
            #expect((a[12].header["error"] as? [String: Any])?["kind"] as? String == "protocol")
        }
    }

    @Test func protocolMismatchAndMissingHelloAreRefused() throws {
        try TestSupport.withTemporaryDirectory { dir in
            #expect(try TestSupport.dvs(["init"], in: dir).status == 0)
            let r = try batch([#"{"op":"hello","protocol":2}"#, #"{"op":"open","rev":"HEAD"}"#], in: dir)
            #expect(r.status == 1)
            let a = try answers(r.stdoutData)
            try #require(a.count == 1)
            let e = try #require(a[0].header["error"] as? [String: Any])
            #expect(e["kind"] as? String == "protocolMismatch" && (e["message"] as? String ?? "").contains("protocol 2"))
            #expect((e["hint"] as? String ?? "").contains("same dvs version"))
            let first = try answers(try batch([#"{"op":"open","rev":"HEAD"}"#], in: dir).stdoutData)
            #expect(((first.first?.header["error"] as? [String: Any])?["message"] as? String ?? "").contains("hello"))
        }
    }
}
