// Containers owns container lifecycle operations (today: a foreground `run`), and the roles that
// work on the store from inside the user namespace (unpacking layers, removing subuid-owned trees).
import ImageReference
import ImageStore
import Runtime
import SystemSupport
#if canImport(Glibc)
import Glibc
#endif

/// A role process that failed, with the one-line reason it reported.
public struct RoleFailure: Error, UserFacingError {
    public let userMessage: String
}

/// Runs store work as root of the user's user namespace (so files get, and lose, their mapped owners).
public struct UserNamespaceTools: LayerUnpacking, LayerRemoving {
    public let idMaps: IDMapPlan

    public init(idMaps: IDMapPlan) { self.idMaps = idMaps }

    public static let unpackRole = "__unpack-layer"
    public static let removeRole = "__remove-tree"

    private func runRole(_ arguments: [String]) throws {
        let environment = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]
        let process: NamespacedProcess
        do {
            process = try NamespacedProcess.start(arguments: arguments, environment: environment, namespaces: .user, idMaps: idMaps)
        } catch {
            throw RoleFailure(userMessage: error.userMessage)
        }
        var reported: String?
        do { try process.waitForExec() } catch {
            if case .initFailed(let step, _) = error { reported = step } else { reported = error.userMessage }
        }
        let status = (try? ChildProcess.wait(process.pid)) ?? .exited(0)
        if let reported { throw RoleFailure(userMessage: reported) }
        if status != .exited(0) { throw RoleFailure(userMessage: "\(arguments[0]) ended with \(status)") }
    }

    public func unpackLayer(blobPath: String, mediaType: String, diffID: Digest, destination: String) throws {
        try runRole([Self.unpackRole, blobPath, diffID.description, destination] + (idMaps.isSingleID ? ["--ignore-ownership"] : []))
    }

    /// The copy driver's rootfs: the image's layers merged into the container's upper directory.
    public func materializeRootfs(specPath: String) throws {
        try runRole([RootfsCopy.roleName, specPath])
    }

    public func removeLayerDirectory(_ path: String) throws {
        try removeTree(path)
    }

    /// Removes a tree; where files belong to subordinate ids, from inside the user namespace.
    public func removeTree(_ path: String) throws {
        var needsNamespace = false
        do {
            try FileSystem.removeTree(path)
        } catch {
            needsNamespace = error.errno == EACCES || error.errno == EPERM
            if !needsNamespace { throw error }
        }
        if needsNamespace { try runRole([Self.removeRole, path]) }
    }

    /// The body of the unpack role, inside the user namespace. Never returns.
    public static func unpackRoleMain(_ arguments: [String]) -> Never {
        guard let channel = RoleChannel.current else { _exit(125) }
        guard arguments.count >= 3, let diffID = try? Digest.parse(arguments[1]) else { channel.fail("bad arguments to \(unpackRole)") }
        let unpacker = LayerUnpacker(ignoreOwnership: arguments.contains("--ignore-ownership"))
        do {
            try unpacker.unpack(blobPath: arguments[0], diffID: diffID, destination: arguments[2])
        } catch {
            channel.fail(error.userMessage)
        }
        _exit(0)
    }

    /// The body of the remove role, inside the user namespace. Never returns.
    public static func removeRoleMain(_ arguments: [String]) -> Never {
        guard let channel = RoleChannel.current else { _exit(125) }
        guard let path = arguments.first else { channel.fail("bad arguments to \(removeRole)") }
        do { try FileSystem.removeTree(path) } catch { channel.fail("cannot remove \(path): \(error.description)") }
        _exit(0)
    }
}
