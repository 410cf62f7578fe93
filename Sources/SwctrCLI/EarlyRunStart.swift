import Containers
import Runtime
import RuntimeSpec

/// The namespaces a foreground `swctr run` is about to want, begun before its arguments are
/// parsed: newuidmap, newgidmap (two setuid programs) and the network namespace then overlap the
/// parse (about 1.7 ms of swift-argument-parser) too. A guess from the raw arguments, made only
/// when nothing in them asks for something else (detached, keep-id, another container's network,
/// help); `Run` uses it where it fits what was parsed and abandons it otherwise.
public struct EarlyRunStart {
    let idMaps: IDMapPlan
    let namespaces: PreparedUserNamespace?

    /// nil unless `arguments` (without the program's name) look like a foreground `run`.
    public static func begin(_ arguments: [String]) -> EarlyRunStart? {
        guard looksLikeForegroundRun(arguments) else { return nil }
        let idMaps = IDMapPlan.current()
        return EarlyRunStart(idMaps: idMaps, namespaces: PreparedUserNamespace.begin(idMaps: idMaps, network: true))
    }

    /// `run` with something after it and nothing that asks for a detached container, other maps,
    /// another container's network or help. Anything that merely looks like it (a value, the
    /// container's own arguments) only costs the head start.
    static func looksLikeForegroundRun(_ arguments: [String]) -> Bool {
        guard arguments.count > 1, arguments[0] == "run" else { return false }
        // Compared as bytes: String's substring search is generic code whose first use costs
        // more than the rest of this function.
        for argument in arguments.dropFirst() {
            let bytes = Array(argument.utf8)
            if argument == "--detach" || argument.hasPrefix("--detach=") || argument == "--help" || argument == "-h"
                || argument.hasPrefix("--userns") || argument.hasPrefix("container:") || contains(bytes, "=container:") {
                return false
            }
            // -d, alone or among other one-letter flags (-dit).
            if argument.hasPrefix("-") && !argument.hasPrefix("--") && bytes.contains(UInt8(ascii: "d")) { return false }
        }
        return true
    }

    private static func contains(_ bytes: [UInt8], _ part: StaticString) -> Bool {
        let needle = UnsafeBufferPointer(start: part.utf8Start, count: part.utf8CodeUnitCount)
        guard bytes.count >= needle.count else { return false }
        return (0...(bytes.count - needle.count)).contains { start in bytes[start..<start + needle.count].elementsEqual(needle) }
    }

    /// Whether namespaces begun this way are the ones a container with these settings would make:
    /// its own user namespace with the usual maps (a network namespace it does not need stays
    /// unused).
    static func fits(keepUserID: Bool, network: NetworkMode) -> Bool {
        ContainerService.joinsPreparedNamespaces(keepUserID: keepUserID, network: network)
    }
}
