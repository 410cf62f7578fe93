// A TOML reader for the files containers-registries.conf(5) describes: comments, `key = value` with
// bare, quoted and dotted keys, basic/literal (and multi-line) strings, booleans, integers,
// arrays spanning lines, inline tables, `[table]` and `[[array.of.tables]]` headers.

/// Reads a TOML document into its root table.
struct TOMLParser {
    /// One step from the root to a table: a key, or an element of an array of tables.
    private enum PathStep: Hashable {
        case key(String)
        case element(Int)
    }

    private let text: [Unicode.Scalar]
    private var position = 0
    private var line = 1
    private var root = TOMLTable()
    /// The table `key = value` lines go into: the last header's.
    private var currentPath: [PathStep] = []
    /// Tables a `[header]` has defined, which a second `[header]` may not define again.
    private var definedTables: Set<[PathStep]> = []
    /// Arrays made by `[[header]]`, which later `[[header]]`s append to.
    private var tableArrays: Set<[PathStep]> = []
    /// How many arrays and inline tables the value being read is inside.
    private var nesting = 0
    /// Deeper nesting is refused rather than risking the stack on a hostile file.
    static let nestingLimit = 64

    private init(_ text: String) { self.text = Array(text.unicodeScalars) }

    static func parse(_ text: String) throws(TOMLSyntaxError) -> TOMLTable {
        var parser = TOMLParser(text)
        return try parser.parseDocument()
    }

    // MARK: Document structure

    private mutating func parseDocument() throws(TOMLSyntaxError) -> TOMLTable {
        while true {
            skipWhitespace()
            guard let next = peek() else { return root }
            switch next {
            case "#": skipComment()
            case "\n", "\r": try consumeNewline()
            case "[":
                let header = try parseHeader()
                try finishLine(after: "table header \(header)")
            default:
                let key = try parseKeyValue()
                try finishLine(after: "the value of key \"\(key)\"")
            }
        }
    }

    /// Reads `[a.b]` or `[[a.b]]` and makes it the current table; returns the header as written.
    private mutating func parseHeader() throws(TOMLSyntaxError) -> String {
        let headerLine = line
        advance()
        let isArray = peek() == "["
        if isArray { advance() }
        skipWhitespace()
        let keys = try parseKeyPath()
        skipWhitespace()
        let written = isArray ? "[[\(keys.joined(separator: "."))]]" : "[\(keys.joined(separator: "."))]"
        for _ in 0..<(isArray ? 2 : 1) {
            guard peek() == "]" else { throw error("expected \"\(isArray ? "]]" : "]")\" to close the table header \(written)") }
            advance()
        }
        currentPath = try openTable(keys, isArray: isArray, written: written, line: headerLine)
        return written
    }

    /// Finds or makes the table a header names and returns its path.
    private mutating func openTable(_ keys: [String], isArray: Bool, written: String, line headerLine: Int) throws(TOMLSyntaxError) -> [PathStep] {
        var path: [PathStep] = []
        for (index, key) in keys.enumerated() {
            let parent = table(at: path)
            let keyPath = path + [.key(key)]
            let isLast = index == keys.count - 1
            switch parent[key] {
            case nil:
                let created = TOMLTable(line: headerLine)
                if isLast && isArray {
                    try modifyTable(at: path) { $0.set(key, .array([.table(created)]), line: headerLine) }
                    tableArrays.insert(keyPath)
                    return keyPath + [.element(0)]
                }
                try modifyTable(at: path) { $0.set(key, .table(created), line: headerLine) }
                path = keyPath
            case .table where !(isLast && isArray):
                if isLast {
                    if definedTables.contains(keyPath) {
                        throw TOMLSyntaxError(line: headerLine, message: "table \(written) is defined twice (first on line \(parent.line(of: key)))")
                    }
                    try modifyTable(at: path) { $0.set(key, parent[key]!, line: headerLine) }
                }
                path = keyPath
            case .array(let elements) where tableArrays.contains(keyPath):
                if isLast && isArray {
                    try modifyTable(at: path) { $0.set(key, .array(elements + [.table(TOMLTable(line: headerLine))]), line: headerLine) }
                    return keyPath + [.element(elements.count)]
                }
                if isLast {
                    throw TOMLSyntaxError(
                        line: headerLine,
                        message:
                            "\(written) names the array of tables [[\(keys.joined(separator: "."))]] (line \(parent.line(of: key))); use [[…]] to add to it")
                }
                path = keyPath + [.element(elements.count - 1)]
            case let other?:
                throw TOMLSyntaxError(
                    line: headerLine, message: "\(written) conflicts with key \"\(key)\", which is already \(other.kind) (line \(parent.line(of: key)))")
            }
        }
        definedTables.insert(path)
        return path
    }

    /// Reads `key = value` into the current table; returns the key as written.
    private mutating func parseKeyValue() throws(TOMLSyntaxError) -> String {
        let (keys, name, keyLine, value) = try parseAssignment()
        try modifyTable(at: currentPath[...]) { table throws(TOMLSyntaxError) in
            try Self.insert(value, at: keys[...], into: &table, line: keyLine, name: name)
        }
        return name
    }

    /// Reads `key = value`: the key's parts, the key as written, its line, and the value.
    private mutating func parseAssignment() throws(TOMLSyntaxError) -> (keys: [String], name: String, line: Int, value: TOMLValue) {
        let keyLine = line
        let keys = try parseKeyPath()
        let name = keys.joined(separator: ".")
        skipWhitespace()
        guard peek() == "=" else { throw error("expected \"=\" after key \"\(name)\"") }
        advance()
        skipWhitespace()
        return (keys, name, keyLine, try parseValue(for: name))
    }

    /// Sets a (possibly dotted) key, making the intermediate tables.
    private static func insert(_ value: TOMLValue, at keys: ArraySlice<String>, into table: inout TOMLTable, line: Int, name: String) throws(TOMLSyntaxError) {
        guard let key = keys.first else { return }
        if keys.count == 1 {
            if table[key] != nil { throw TOMLSyntaxError(line: line, message: "key \"\(name)\" is set twice (first on line \(table.line(of: key)))") }
            table.set(key, value, line: line)
            return
        }
        var inner: TOMLTable
        switch table[key] {
        case nil: inner = TOMLTable(line: line)
        case .table(let existing): inner = existing
        case let other?:
            throw TOMLSyntaxError(line: line, message: "cannot set \"\(name)\": key \"\(key)\" is already \(other.kind) (line \(table.line(of: key)))")
        }
        try insert(value, at: keys.dropFirst(), into: &inner, line: line, name: name)
        table.set(key, .table(inner), line: table[key] == nil ? line : table.line(of: key))
    }

    private func table(at path: [PathStep]) -> TOMLTable {
        var table = root
        var index = path.startIndex
        while index < path.endIndex {
            guard case .key(let key) = path[index] else { return table }
            index += 1
            switch table[key] {
            case .table(let inner)?:
                table = inner
            case .array(let elements)?:
                guard index < path.endIndex, case .element(let element) = path[index], case .table(let inner) = elements[element] else { return table }
                index += 1
                table = inner
            default:
                return table
            }
        }
        return table
    }

    private mutating func modifyTable(at path: [PathStep], _ body: (inout TOMLTable) throws(TOMLSyntaxError) -> Void) throws(TOMLSyntaxError) {
        try modifyTable(at: path[...], body)
    }

    private mutating func modifyTable(at path: ArraySlice<PathStep>, _ body: (inout TOMLTable) throws(TOMLSyntaxError) -> Void) throws(TOMLSyntaxError) {
        try Self.modify(&root, at: path, body)
    }

    private static func modify(_ table: inout TOMLTable, at path: ArraySlice<PathStep>, _ body: (inout TOMLTable) throws(TOMLSyntaxError) -> Void)
        throws(TOMLSyntaxError)
    {
        guard case .key(let key)? = path.first else { return try body(&table) }
        let keyLine = table.line(of: key)
        var rest = path.dropFirst()
        switch table[key] {
        case .table(var inner)?:
            try modify(&inner, at: rest, body)
            table.set(key, .table(inner), line: keyLine)
        case .array(var elements)?:
            guard case .element(let index)? = rest.first, case .table(var inner) = elements[index] else { return }
            rest = rest.dropFirst()
            try modify(&inner, at: rest, body)
            elements[index] = .table(inner)
            table.set(key, .array(elements), line: keyLine)
        default:
            return
        }
    }

    // MARK: Keys

    /// `a`, `"quoted key"`, `'literal'`, or dotted `a.b."c"`.
    private mutating func parseKeyPath() throws(TOMLSyntaxError) -> [String] {
        var keys = [try parseKey()]
        while true {
            skipWhitespace()
            guard peek() == "." else { return keys }
            advance()
            skipWhitespace()
            keys.append(try parseKey())
        }
    }

    private mutating func parseKey() throws(TOMLSyntaxError) -> String {
        switch peek() {
        case "\"": return try parseBasicString()
        case "'": return try parseLiteralString()
        default:
            var key = ""
            while let next = peek(), Self.isBareKeyCharacter(next) {
                key.unicodeScalars.append(next)
                advance()
            }
            if key.isEmpty {
                guard let next = peek(), next != "\n", next != "\r" else { throw error("expected a key") }
                throw error("expected a key, found \"\(next)\" (keys other than A-Z a-z 0-9 _ - must be quoted)")
            }
            return key
        }
    }

    private static func isBareKeyCharacter(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "_" || scalar == "-"
    }

    // MARK: Values

    private mutating func parseValue(for key: String) throws(TOMLSyntaxError) -> TOMLValue {
        guard let next = peek(), next != "\n", next != "\r", next != "#" else { throw error("expected a value for key \"\(key)\"") }
        switch next {
        case "\"": return .string(peek(offset: 1) == "\"" && peek(offset: 2) == "\"" ? try parseMultiLineBasicString() : try parseBasicString())
        case "'": return .string(peek(offset: 1) == "'" && peek(offset: 2) == "'" ? try parseMultiLineLiteralString() : try parseLiteralString())
        case "[", "{":
            if nesting >= Self.nestingLimit { throw error("arrays and inline tables are nested more than \(Self.nestingLimit) deep") }
            nesting += 1
            defer { nesting -= 1 }
            return next == "[" ? try parseArray(for: key) : try parseInlineTable(for: key)
        default:
            let word = readWord()
            switch word {
            case "true": return .boolean(true)
            case "false": return .boolean(false)
            default:
                if let first = word.unicodeScalars.first, ("0"..."9").contains(first) || first == "+" || first == "-" {
                    return .integer(try parseInteger(word))
                }
                if word.isEmpty { throw error("expected a value for key \"\(key)\", found \"\(next)\"") }
                throw error("\(word) is not a value: strings must be quoted (\"\(word)\")")
            }
        }
    }

    /// Decimal (with `+`/`-` and `_` between digits), or `0x`, `0o`, `0b` integers.
    private func parseInteger(_ word: String) throws(TOMLSyntaxError) -> Int64 {
        let lowered = word.lowercased()
        if lowered.contains(".") || lowered.contains(":") || lowered.hasSuffix("inf") || lowered.hasSuffix("nan")
            || (!lowered.hasPrefix("0x") && lowered.contains("e")) || lowered.dropFirst().contains("-")
        {
            throw error("\(word): floating-point numbers and dates are not supported here")
        }
        var digits = Substring(word)
        var radix = 10
        var sign = ""
        for (prefix, base) in [("0x", 16), ("0o", 8), ("0b", 2)] where digits.hasPrefix(prefix) {
            digits = digits.dropFirst(2)
            radix = base
        }
        if radix == 10, let first = digits.first, first == "+" || first == "-" {
            if first == "-" { sign = "-" }
            digits = digits.dropFirst()
        }
        let parts = digits.split(separator: "_", omittingEmptySubsequences: false)
        let joined = parts.joined()
        guard !joined.isEmpty, !parts.contains(where: \.isEmpty), !(radix == 10 && joined.count > 1 && joined.hasPrefix("0")) else {
            throw error("\(word) is not a valid integer")
        }
        guard joined.allSatisfy({ $0.hexDigitValue.map { $0 < radix } ?? false }) else { throw error("\(word) is not a valid integer") }
        guard let value = Int64(sign + joined, radix: radix) else { throw error("integer \(word) is out of range") }
        return value
    }

    private mutating func parseArray(for key: String) throws(TOMLSyntaxError) -> TOMLValue {
        let openLine = line
        advance()
        var elements: [TOMLValue] = []
        while true {
            try skipBlank()
            guard let next = peek() else { throw TOMLSyntaxError(line: openLine, message: "the array of key \"\(key)\" is not closed with \"]\"") }
            if next == "]" {
                advance()
                return .array(elements)
            }
            elements.append(try parseValue(for: key))
            try skipBlank()
            switch peek() {
            case ",": advance()
            case "]": break
            case nil: throw TOMLSyntaxError(line: openLine, message: "the array of key \"\(key)\" is not closed with \"]\"")
            case let other?: throw error("expected \",\" or \"]\" in the array of key \"\(key)\", found \"\(other)\"")
            }
        }
    }

    private mutating func parseInlineTable(for key: String) throws(TOMLSyntaxError) -> TOMLValue {
        let openLine = line
        advance()
        var table = TOMLTable(line: openLine)
        while true {
            try skipBlank()
            guard let next = peek() else { throw TOMLSyntaxError(line: openLine, message: "the inline table of key \"\(key)\" is not closed with \"}\"") }
            if next == "}" {
                advance()
                return .table(table)
            }
            let (keys, name, keyLine, value) = try parseAssignment()
            try Self.insert(value, at: keys[...], into: &table, line: keyLine, name: name)
            try skipBlank()
            switch peek() {
            case ",": advance()
            case "}": break
            case nil: throw TOMLSyntaxError(line: openLine, message: "the inline table of key \"\(key)\" is not closed with \"}\"")
            case let other?: throw error("expected \",\" or \"}\" in the inline table of key \"\(key)\", found \"\(other)\"")
            }
        }
    }

    // MARK: Strings

    private mutating func parseBasicString() throws(TOMLSyntaxError) -> String {
        advance()
        var result = String.UnicodeScalarView()
        while true {
            guard let next = peek(), next != "\n", next != "\r" else { throw error("string is not closed with \" on this line") }
            switch next {
            case "\"":
                advance()
                return String(result)
            case "\\":
                result.append(try parseEscape())
            default:
                try checkAllowed(next)
                result.append(next)
                advance()
            }
        }
    }

    private mutating func parseMultiLineBasicString() throws(TOMLSyntaxError) -> String {
        let openLine = line
        advance(count: 3)
        try skipNewlineAfterOpeningQuotes()
        var result = String.UnicodeScalarView()
        while true {
            guard let next = peek() else { throw TOMLSyntaxError(line: openLine, message: "multi-line string is not closed with \"\"\"") }
            switch next {
            case "\"" where closesMultiLineString(with: "\""):
                return finishMultiLineString(result, quote: "\"")
            case "\\" where isLineEndingBackslash():
                advance()
                while let blank = peek(), blank == " " || blank == "\t" || blank == "\n" || blank == "\r" { advance() }
            case "\\":
                result.append(try parseEscape())
            case "\r":
                try consumeNewline()
                result.append("\n")
            case "\n":
                advance()
                result.append("\n")
            default:
                try checkAllowed(next)
                result.append(next)
                advance()
            }
        }
    }

    private mutating func parseLiteralString() throws(TOMLSyntaxError) -> String {
        advance()
        var result = String.UnicodeScalarView()
        while true {
            guard let next = peek(), next != "\n", next != "\r" else { throw error("string is not closed with ' on this line") }
            advance()
            if next == "'" { return String(result) }
            try checkAllowed(next)
            result.append(next)
        }
    }

    private mutating func parseMultiLineLiteralString() throws(TOMLSyntaxError) -> String {
        let openLine = line
        advance(count: 3)
        try skipNewlineAfterOpeningQuotes()
        var result = String.UnicodeScalarView()
        while true {
            guard let next = peek() else { throw TOMLSyntaxError(line: openLine, message: "multi-line string is not closed with '''") }
            if next == "'" && closesMultiLineString(with: "'") { return finishMultiLineString(result, quote: "'") }
            if next == "\r" {
                try consumeNewline()
                result.append("\n")
                continue
            }
            if next != "\n" { try checkAllowed(next) }
            result.append(next)
            advance()
        }
    }

    private mutating func skipNewlineAfterOpeningQuotes() throws(TOMLSyntaxError) {
        if peek() == "\n" || peek() == "\r" { try consumeNewline() }
    }

    private func closesMultiLineString(with quote: Unicode.Scalar) -> Bool {
        peek(offset: 1) == quote && peek(offset: 2) == quote
    }

    /// Up to two quotes right before the closing three belong to the string (`""""a"""""`).
    private mutating func finishMultiLineString(_ content: String.UnicodeScalarView, quote: Unicode.Scalar) -> String {
        var run = 0
        while peek(offset: run) == quote && run < 5 { run += 1 }
        var result = content
        for _ in 0..<(run - 3) { result.append(quote) }
        advance(count: run)
        return String(result)
    }

    /// A backslash followed only by blanks up to the end of the line.
    private func isLineEndingBackslash() -> Bool {
        var offset = 1
        while let next = peek(offset: offset), next == " " || next == "\t" { offset += 1 }
        return peek(offset: offset) == "\n" || peek(offset: offset) == "\r"
    }

    private mutating func parseEscape() throws(TOMLSyntaxError) -> Unicode.Scalar {
        advance()
        guard let code = peek() else { throw error("string ends inside an escape") }
        advance()
        switch code {
        case "b": return "\u{08}"
        case "t": return "\t"
        case "n": return "\n"
        case "f": return "\u{0C}"
        case "r": return "\r"
        case "e": return "\u{1B}"
        case "\"": return "\""
        case "\\": return "\\"
        case "u", "U":
            let length = code == "u" ? 4 : 8
            var hex = ""
            for _ in 0..<length {
                guard let digit = peek(), digit.properties.isASCIIHexDigit else {
                    throw error("\\\(code) must be followed by \(length) hexadecimal digits")
                }
                hex.unicodeScalars.append(digit)
                advance()
            }
            guard let value = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(value) else {
                throw error("\\\(code)\(hex) is not a Unicode character")
            }
            return scalar
        default:
            throw error("invalid escape \"\\\(code)\" in a string (use \\\\ for a backslash)")
        }
    }

    private func checkAllowed(_ scalar: Unicode.Scalar) throws(TOMLSyntaxError) {
        if (scalar.value < 0x20 && scalar != "\t") || scalar.value == 0x7F {
            throw error("control character U+\(String(scalar.value, radix: 16, uppercase: true)) in a string (write it as an escape)")
        }
    }

    // MARK: Characters

    private func peek(offset: Int = 0) -> Unicode.Scalar? {
        position + offset < text.count ? text[position + offset] : nil
    }

    private mutating func advance(count: Int = 1) {
        for _ in 0..<count where position < text.count {
            if text[position] == "\n" { line += 1 }
            position += 1
        }
    }

    /// Everything up to white space or a delimiter: a bare value such as `true` or `0x1f`.
    private mutating func readWord() -> String {
        var word = ""
        while let next = peek(), !" \t\r\n,]}#".unicodeScalars.contains(next) {
            word.unicodeScalars.append(next)
            advance()
        }
        return word
    }

    private mutating func skipWhitespace() {
        while let next = peek(), next == " " || next == "\t" { advance() }
    }

    private mutating func skipComment() {
        while let next = peek(), next != "\n" { advance() }
    }

    /// White space, line ends and comments (between array elements).
    private mutating func skipBlank() throws(TOMLSyntaxError) {
        while let next = peek() {
            switch next {
            case " ", "\t": advance()
            case "\n", "\r": try consumeNewline()
            case "#": skipComment()
            default: return
            }
        }
    }

    private mutating func consumeNewline() throws(TOMLSyntaxError) {
        if peek() == "\r" {
            guard peek(offset: 1) == "\n" else { throw error("carriage return without a line feed") }
            advance()
        }
        advance()
    }

    /// After a header or a value only white space and a comment may follow on the line.
    private mutating func finishLine(after what: String) throws(TOMLSyntaxError) {
        skipWhitespace()
        if peek() == "#" { skipComment() }
        guard let next = peek() else { return }
        if next == "\n" || next == "\r" { return try consumeNewline() }
        throw error("unexpected \"\(next)\" after \(what) (one key = value per line)")
    }

    private func error(_ message: String) -> TOMLSyntaxError { TOMLSyntaxError(line: line, message: message) }
}
