import SystemSupport

/// Names for containers: checked when the user gives one, made up (`adjective_noun`) when not.
public enum ContainerNames {
    static let adjectives = [
        "amber", "brave", "brisk", "calm", "clever", "cosmic", "crisp", "daring", "eager", "fancy",
        "gentle", "glad", "golden", "happy", "humble", "jolly", "keen", "kind", "lively", "lucid",
        "merry", "mighty", "nimble", "noble", "patient", "plucky", "proud", "quick", "quiet", "rapid",
        "rustic", "serene", "sharp", "shiny", "silent", "snappy", "steady", "sunny", "swift", "tidy",
        "upbeat", "vivid", "warm", "wise", "witty", "zesty",
    ]
    static let nouns = [
        "acorn", "badger", "beacon", "bison", "canyon", "cedar", "comet", "condor", "coral", "delta",
        "dune", "falcon", "fern", "fjord", "glacier", "harbor", "heron", "island", "jaguar", "kestrel",
        "lagoon", "lantern", "maple", "meadow", "meteor", "otter", "panda", "pebble", "pine", "prairie",
        "quartz", "raven", "reef", "river", "salmon", "sparrow", "summit", "tundra", "valley", "walrus",
        "willow", "wolf", "yak", "zephyr",
    ]

    public static func generate() -> String {
        let value = Int(FileSystem.randomHex(bytes: 4), radix: 16) ?? 0
        return adjectives[(value >> 16) % adjectives.count] + "_" + nouns[(value & 0xffff) % nouns.count]
    }

    /// Docker's rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
    public static func isValid(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.utf8.count <= 253 else { return false }
        func plain(_ c: Unicode.Scalar) -> Bool { c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c)) }
        return plain(first) && name.unicodeScalars.allSatisfy { plain($0) || $0 == "_" || $0 == "." || $0 == "-" }
    }
}
