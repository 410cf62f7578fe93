import ArgumentParser
import Containers
import FoundationEssentials
import HostCheck
import ImageStore
import Registry
import Runtime
import SystemSupport

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", _superCommandName: Swctr.commandName, abstract: "Show the host, store and network swctr sees (run `swctr doctor` to check them).")

    @Option(help: "text (default) or json.")
    var format: String = "text"

    /// What `info` reports.
    struct Report: Encodable {
        struct Store: Encodable {
            let root: String
            let driver: String
            let driverReason: String
            let images: Int
            let containers: Int
        }
        struct Network: Encodable {
            let engine: String
            let libslirp: Bool
        }
        let host: HostSummary
        let store: Store
        let network: Network
        let registriesConfiguration: String?
    }

    func run() throws {
        guard format == "text" || format == "json" else { throw fail(CLIError("--format must be text or json, not \"\(format)\""), exitCode: 125) }
        do {
            let directories = UserDirectories.current()
            let store = try ImageStore(layout: StoreLayout(root: directories.data))
            let containers = try Session.containerService().list().count
            let host = HostSummary.current()
            let choice = try StorageDriverSelection.choose(flag: nil, environment: ProcessEnvironment.current, directories: directories)
            let report = Report(
                host: host,
                store: .init(root: directories.data, driver: choice.driver.rawValue, driverReason: choice.reason,
                             images: try store.images().count, containers: containers),
                network: .init(engine: "slirp (built in, libslirp)", libslirp: host.slirpLibrary),
                registriesConfiguration: RegistriesConfiguration.configurationFile(environment: ProcessEnvironment.current)?.path)
            print(format == "json" ? try prettyJSON(report) : Self.text(report))
        } catch {
            throw fail(error, exitCode: 1)
        }
    }

    static func text(_ report: Report) -> String {
        let host = report.host
        func maps(_ mappings: [IDMapping]) -> String {
            mappings.map { "\($0.containerID):\($0.hostID):\($0.size)" }.joined(separator: " ")
        }
        let cgroup = host.cgroup
        var lines = [
            "host:",
            "  kernel: \(host.kernel) (\(host.architecture))",
            "  os: \(host.os)",
            "  rootless: \(host.rootless)",
            "  cgroup version: \(cgroup.version.rawValue)",
            "  cgroup manager: \(cgroup.manager)",
            "  cgroup: \(cgroup.path.isEmpty ? "-" : cgroup.path) (controllers: \(cgroup.controllers.isEmpty ? "none" : cgroup.controllers.joined(separator: " ")); \(cgroup.writable ? "delegated" : "not delegated"))",
            "  uid mappings: \(maps(host.uidMappings))",
            "  gid mappings: \(maps(host.gidMappings))",
        ]
        if let warning = host.idMappingWarning { lines.append("  id mapping warning: \(warning)") }
        lines += [
            "store:",
            "  root: \(report.store.root)",
            "  driver: \(report.store.driver) (\(report.store.driverReason))",
            "  images: \(report.store.images)",
            "  containers: \(report.store.containers)",
            "network:",
            "  engine: \(report.network.engine)",
            "  libslirp: \(report.network.libslirp ? "found" : "missing (sudo apt-get install libslirp0)")",
            "registries:",
            "  configuration: \(report.registriesConfiguration ?? "none (defaults)")",
        ]
        return lines.joined(separator: "\n")
    }
}
