import ArgumentParser
import FoundationEssentials
import HostCheck

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor", _superCommandName: Swctr.commandName,
        abstract: "Check what rootless containers need from this host, and print the command that fixes each problem.",
        discussion: "Each check tries the real thing (makes a user namespace, maps the subordinate ids, mounts an overlay, opens the devices). Exits 1 when a check failed; warnings do not fail.")

    @Option(help: "text (default) or json.")
    var format: String = "text"

    func run() throws {
        guard format == "text" || format == "json" else { throw fail(CLIError("--format must be text or json, not \"\(format)\""), exitCode: 125) }
        let report = HostReport.run(on: HostContext.current())
        if format == "json" {
            print(try prettyJSON(report))
        } else {
            for check in report.checks {
                print("\(Self.mark(check.verdict)) \(check.name): \(check.finding)")
                if let fix = check.fix { print("    fix: \(fix)") }
            }
        }
        if report.hasFailure { throw ExitCode(1) }
    }

    static func mark(_ verdict: Verdict) -> String {
        switch verdict {
        case .ok: return "[ok]  "
        case .warning: return "[warn]"
        case .failed: return "[FAIL]"
        case .notApplicable: return "[n/a] "
        }
    }
}

func prettyJSON<Value: Encodable>(_ value: Value) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
