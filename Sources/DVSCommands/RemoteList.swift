import ArgumentParser
import DVS
import Foundation

extension RemoteCommand {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List remotes; -v adds URLs and S3 settings.")
        @OptionGroup var global: GlobalOptions
        @Flag(name: .shortAndLong, help: "Show URLs, endpoints and regions.") var verbose = false
        @Flag(help: "Print JSON.") var json = false

        func run() throws {
            let remotes = try global.repository().remotes()
            if json {
                try Output.jsonObject(
                    remotes.map { r -> [String: Any] in
                        var o: [String: Any] = [
                            "name": r.name, "url": r.url.description, "path_style": r.pathStyle, "transfers": r.transfers,
                        ]
                        if let e = r.endpoint { o["endpoint"] = Repository.shownSetting(e) }
                        if let g = r.region { o["region"] = g }
                        return o
                    })
                return
            }
            for r in remotes {
                guard verbose else {
                    Output.out(r.name)
                    continue
                }
                var extra: [String] = []
                if let e = r.endpoint { extra.append("endpoint \(Repository.shownSetting(e))") }
                if let g = r.region { extra.append("region \(g)") }
                if r.pathStyle { extra.append("path-style") }
                Output.out("\(r.name)\t\(r.url)" + (extra.isEmpty ? "" : " (\(extra.joined(separator: ", ")))"))
            }
        }
    }
}
