import ArgumentParser
import FoundationEssentials
import ImageReference
import ImageStore

struct Images: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "images", _superCommandName: Swctr.commandName, abstract: "List the images in the local store.")

    @Flag(name: .shortAndLong, help: "Print only image ids.")
    var quiet = false

    @Flag(help: "Show digests.")
    var digests = false

    @Flag(name: .customLong("no-trunc"), help: "Show full image ids.")
    var noTrunc = false

    @Option(help: "json, table, or a template such as '{{.Repository}}:{{.Tag}} {{.ID}}'.")
    var format: String?

    func run() throws {
        do {
            let session = try Session.open(quiet: true)
            let records = try session.store.images().sorted { ($0.pulled, $0.id.hex) > ($1.pulled, $1.id.hex) }
            if quiet {
                for record in records { print(noTrunc ? record.id.description : record.shortID) }
                return
            }
            if let format, format != "table" {
                try printFormatted(records, format: format)
                return
            }
            var rows: [[String]] = [["REPOSITORY", "TAG"] + (digests ? ["DIGEST"] : []) + ["IMAGE ID", "CREATED", "SIZE"]]
            for record in records {
                let names = record.names.isEmpty ? ["<none>:<none>"] : record.names
                for name in names {
                    let reference = try? ImageReference.parse(name)
                    let repository = reference?.name ?? "<none>"
                    let tag = reference?.tag ?? "<none>"
                    let digest = record.manifestDigest.description
                    rows.append([repository, tag] + (digests ? [digest] : []) + [noTrunc ? record.id.description : record.shortID, Self.age(record.created), ImageStore.formatSize(record.size)])
                }
            }
            printTable(rows)
        } catch {
            throw fail(error, exitCode: 1)
        }
    }

    /// One row per name (or one `<none>` row): the fields `--format` templates can use.
    private func rows(_ records: [ImageRecord]) -> [[String: String]] {
        var rows: [[String: String]] = []
        for record in records {
            for name in record.names.isEmpty ? ["<none>:<none>"] : record.names {
                let reference = try? ImageReference.parse(name)
                rows.append([
                    "ID": noTrunc ? record.id.description : record.shortID, "Repository": reference?.name ?? "<none>",
                    "Tag": reference?.tag ?? "<none>", "Digest": record.manifestDigest.description,
                    "CreatedAt": record.created ?? "", "CreatedSince": Self.age(record.created), "Size": ImageStore.formatSize(record.size),
                ])
            }
        }
        return rows
    }

    private func printFormatted(_ records: [ImageRecord], format: String) throws {
        if format == "json" {
            struct Entry: Encodable {
                let Id: String, Names: [String], RepoTags: [String], RepoDigests: [String], Digest: String
                let Created: String, Size: Int64, Dangling: Bool, Architecture: String, Os: String
            }
            let entries = records.map {
                Entry(Id: $0.id.hex, Names: $0.names, RepoTags: $0.names, RepoDigests: $0.repoDigests, Digest: $0.manifestDigest.description,
                      Created: $0.created ?? "", Size: $0.size, Dangling: $0.names.isEmpty, Architecture: $0.platform.architecture, Os: $0.platform.os)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(entries), as: UTF8.self))
            return
        }
        for row in rows(records) { print(try Self.fill(template: format, with: row)) }
    }

    /// Replaces each `{{.Field}}` (and `{{ .Field }}`) with the row's value; `\t` becomes a tab.
    static func fill(template: String, with row: [String: String]) throws -> String {
        var output = ""
        var rest = Substring(template.split(separator: "\\t", omittingEmptySubsequences: false).joined(separator: "\t"))
        while let open = rest.firstRange(of: "{{") {
            output += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else { throw CLIError("--format: \"{{\" without \"}}\" in \(template)") }
            let field = String(rest[open.upperBound..<close.lowerBound]).trimmed
            guard field.hasPrefix("."), let value = row[String(field.dropFirst())] else {
                throw CLIError("--format: unknown field \(field); use .ID .Repository .Tag .Digest .CreatedAt .CreatedSince .Size")
            }
            output += value
            rest = rest[close.upperBound...]
        }
        return output + rest
    }

    static func age(_ created: String?) -> String {
        guard let created, created.count >= 10 else { return "unknown" }
        return String(created.prefix(10))
    }
}

func printTable(_ rows: [[String]]) {
    guard let columns = rows.first?.count else { return }
    var widths = [Int](repeating: 0, count: columns)
    for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
    for row in rows {
        var line = ""
        for (index, cell) in row.enumerated() {
            line += index == columns - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count + 3)
        }
        print(line)
    }
}
