import ArgumentParser
import ImageReference
import ImageStore

struct Images: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the images in the local store.")

    @Flag(name: .shortAndLong, help: "Print only image ids.")
    var quiet = false

    @Flag(help: "Show digests.")
    var digests = false

    func run() throws {
        do {
            let session = try Session.open(quiet: true)
            let records = try session.store.images().sorted { ($0.pulled, $0.id.hex) > ($1.pulled, $1.id.hex) }
            if quiet {
                for record in records { print(record.shortID) }
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
                    rows.append([repository, tag] + (digests ? [digest] : []) + [record.shortID, Self.age(record.created), ImageStore.formatSize(record.size)])
                }
            }
            printTable(rows)
        } catch {
            throw fail(error, exitCode: 1)
        }
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
