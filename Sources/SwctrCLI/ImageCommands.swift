import ArgumentParser
import Containers
import FoundationEssentials
import ImageReference
import ImageStore
import Registry
import SystemSupport

/// Docker-shaped `image inspect` output.
struct ImageInspection: Encodable {
    struct RootFSInfo: Encodable { let `Type`: String, Layers: [String] }
    let Id: String, RepoTags: [String], RepoDigests: [String], Parent: String, Comment: String, Created: String
    let Config: ContainerConfiguration, Architecture: String, Variant: String?, Os: String, Size: Int64
    let RootFS: RootFSInfo, Digest: String

    init(_ record: ImageRecord, configuration: ImageConfiguration) {
        Id = record.id.description
        RepoTags = record.names
        RepoDigests = record.repoDigests
        Parent = ""
        Comment = configuration.history?.last?.comment ?? ""
        Created = configuration.created ?? ""
        Config = configuration.config ?? ContainerConfiguration()
        Architecture = configuration.architecture ?? record.platform.architecture
        Variant = configuration.variant ?? record.platform.variant
        Os = configuration.os ?? record.platform.os
        Size = record.size
        RootFS = RootFSInfo(Type: configuration.rootfs.type, Layers: configuration.rootfs.diff_ids.map(\.description))
        Digest = record.manifestDigest.description
    }
}

struct RemoveImages: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rmi", _superCommandName: Swctr.commandName, abstract: "Remove images (or one of an image's names).",
        discussion: "An image that a container uses is refused; -f removes those containers first, as Podman does.")

    @Flag(name: .shortAndLong, help: "Also remove the containers that use the images.")
    var force = false

    @Flag(name: .shortAndLong, help: "Remove all images.")
    var all = false

    @Argument(help: "Images: name, id or id prefix.")
    var images: [String] = []

    func validate() throws {
        if images.isEmpty && !all { throw ValidationError("give at least one image, or --all") }
    }

    func run() throws {
        let session: Session
        let containers: ContainerService
        do {
            session = try Session.open(quiet: true)
            containers = try session.containers()
        } catch { throw fail(error, exitCode: 125) }
        let targets = all ? ((try? session.store.images()) ?? []).map(\.id.description) : images
        var failed = false
        for text in targets {
            do {
                var users = try containers.list().filter { $0.settings.imageID == (try session.store.lookup(text))?.id.description }
                if force {
                    for record in users { try containers.remove(record.id, force: true, volumes: true) }
                    users = []
                }
                let inUse = Set(try containers.list().map(\.settings.imageID))
                for outcome in try session.store.remove(text, inUse: inUse, remover: UserNamespaceTools(idMaps: session.idMaps)) {
                    switch outcome {
                    case .untagged(let name): print("Untagged: \(name)")
                    case .deleted(let id): print("Deleted: \(id)")
                    }
                }
            } catch {
                _ = fail(error, exitCode: 1)
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}

struct TagImage: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tag", _superCommandName: Swctr.commandName, abstract: "Give an image more names.")

    @Argument(help: "The image: name, id or id prefix.") var source: String
    @Argument(help: "New names: NAME[:TAG].") var targets: [String]

    func run() throws {
        do {
            let session = try Session.open(quiet: true)
            guard let record = try session.store.lookup(source) else { throw ImageStoreError.imageNotFound(source) }
            for target in targets {
                let reference = try ImageReference.parse(target)
                if reference.digest != nil { throw CLIError("cannot tag with a digest (\(target)): give NAME[:TAG]") }
                try session.store.tag(record, as: reference)
            }
        } catch {
            throw fail(error, exitCode: 1)
        }
    }
}

struct ImageHistory: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", _superCommandName: Swctr.commandName, abstract: "Show how an image was built, newest step first.")

    @Flag(name: .shortAndLong, help: "Print only the image id of each step.") var quiet = false
    @Flag(name: .customLong("no-trunc"), help: "Do not shorten the CREATED BY column.") var noTrunc = false
    @Option(help: "json, or table (the default).") var format: String?
    @Argument(help: "The image: name, id or id prefix.") var image: String

    func run() throws {
        do {
            let session = try Session.open(quiet: true)
            guard let record = try session.store.lookup(image) else { throw ImageStoreError.imageNotFound(image) }
            let configuration = try session.store.configuration(of: record)
            let layerSizes = (try? session.store.manifest(of: record))?.layers.map(\.size) ?? []
            var steps = (configuration.history ?? []).map { (created: $0.created, createdBy: $0.created_by, empty: $0.empty_layer == true, comment: $0.comment) }
            if steps.isEmpty { steps = layerSizes.map { _ in (configuration.created, nil, false, nil) } }
            var rows: [(id: String, created: String, createdBy: String, size: Int64, comment: String)] = []
            var layer = 0
            for step in steps {
                var size: Int64 = 0
                if !step.empty {
                    size = layer < layerSizes.count ? layerSizes[layer] : 0
                    layer += 1
                }
                rows.append(("<missing>", step.created ?? "", step.createdBy ?? "", size, step.comment ?? ""))
            }
            rows.reverse()
            if !rows.isEmpty { rows[0].id = noTrunc ? record.id.description : record.shortID }
            if quiet {
                rows.forEach { print($0.id) }
            } else if format == "json" {
                struct Step: Encodable { let id: String, created: String, createdBy: String, size: Int64, comment: String }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                let steps = rows.map { Step(id: $0.id, created: $0.created, createdBy: $0.createdBy, size: $0.size, comment: $0.comment) }
                print(String(decoding: try encoder.encode(steps), as: UTF8.self))
            } else {
                var table = [["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]]
                for row in rows {
                    let createdBy = noTrunc || row.createdBy.count <= 45 ? row.createdBy : String(row.createdBy.prefix(44)) + "…"
                    table.append([row.id, Images.age(row.created), createdBy, ImageStore.formatSize(row.size), row.comment])
                }
                printTable(table)
            }
        } catch {
            throw fail(error, exitCode: 1)
        }
    }
}

struct PruneImages: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prune", abstract: "Remove images without a name that no container uses.")

    @Flag(name: .shortAndLong, help: "Remove every image no container uses, named or not.") var all = false
    @Flag(name: .shortAndLong, help: "Do not ask for confirmation (swctr never asks).") var force = false

    func run() throws {
        do {
            let session = try Session.open(quiet: true)
            let inUse = Set(try session.containers().list().map(\.settings.imageID))
            let pruned = try session.store.prune(all: all, inUse: inUse, remover: UserNamespaceTools(idMaps: session.idMaps))
            if !pruned.isEmpty { print("Deleted Images:") }
            pruned.forEach { print($0.description) }
        } catch {
            throw fail(error, exitCode: 1)
        }
    }
}

struct InspectImages: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Show images' details as JSON (Docker's shape).")

    @Option(name: .shortAndLong, help: "Print one field, such as {{.Id}} or .Config.Cmd.") var format: String?
    @Argument(help: "Images: name, id or id prefix.") var images: [String]

    func run() throws {
        let session: Session
        do { session = try Session.open(quiet: true) } catch { throw fail(error, exitCode: 125) }
        var documents: [JSONValue] = []
        var failed = false
        for name in images {
            do {
                guard let document = try Self.inspection(of: name, store: session.store) else { throw ImageStoreError.imageNotFound(name) }
                documents.append(document)
            } catch {
                _ = fail(error, exitCode: 1)
                failed = true
            }
        }
        try Inspect.printDocuments(documents, format: format, failed: failed)
        if failed { throw ExitCode(1) }
    }

    /// The image's inspect document, or nil when no image has that name or id.
    static func inspection(of name: String, store: ImageStore) throws -> JSONValue? {
        guard let record = try store.lookup(name) else { return nil }
        let document = ImageInspection(record, configuration: try store.configuration(of: record))
        return try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(document))
    }
}

struct ImageCommands: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image", abstract: "Manage images (the same verbs as at the top level).",
        subcommands: [ImageList.self, Pull.self, Push.self, ImageRemove.self, TagImage.self, InspectImages.self, ImageHistory.self, PruneImages.self,
                      Save.self, Load.self, Import.self])
}

/// `image ls`: `images` under the name Docker's image group uses.
struct ImageList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: Images.configuration.abstract, aliases: ["list"])
    @OptionGroup var listing: Images
    func run() throws { try listing.run() }
}

/// `image rm`: `rmi` under the name Docker's image group uses.
struct ImageRemove: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: RemoveImages.configuration.abstract)
    @OptionGroup var removal: RemoveImages
    func run() throws { try removal.run() }
}

struct Push: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "push", _superCommandName: Swctr.commandName, abstract: "Push an image to a registry.",
                                                    discussion: "swctr push IMAGE [DESTINATION]: DESTINATION defaults to the image's name.")

    @Flag(name: .shortAndLong, help: "Print nothing but errors.") var quiet = false
    @Option(help: "Also write the manifest digest to this file.") var digestfile: String?
    @OptionGroup var registry: RegistryOptions
    @Argument(help: "The local image: name, id or id prefix.") var image: String
    @Argument(help: "Where to push: REGISTRY/NAME[:TAG].") var destination: String?

    func run() throws {
        do {
            let access = try registry.access
            let session = try Session.open(quiet: true)
            guard let record = try session.store.lookup(image) else { throw ImageStoreError.imageNotFound(image) }
            let target = try ImageReference.parse(destination ?? image)
            if target.digest != nil { throw CLIError("cannot push to a digest (\(destination ?? image)): give REGISTRY/NAME[:TAG]") }
            let quiet = self.quiet
            let digest = try session.store.push(record, to: target, client: try access.client(for: target)) { line in
                if !quiet { printError(line) }
            }
            if let digestfile { try FileSystem.writeAtomically(digestfile, digest.description, mode: 0o644) }
            if !quiet { printError("Digest: \(digest)") }
        } catch {
            throw fail(error, exitCode: 1)
        }
    }
}
