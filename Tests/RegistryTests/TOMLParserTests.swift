@testable import Registry
import XCTest

final class TOMLParserTests: XCTestCase {
    func testReadsKeysValuesAndComments() throws {
        let table = try TOMLParser.parse(
            """
            # a comment
            bare_key-1 = "basic \\"quoted\\" \\t \\u00e9 \\U0001F600" # trailing comment
            "quoted key" = 'C:\\literal\\path'
            'literal key' = true
            off = false
            count = 1_000
            negative = -42
            hex = 0xff
            octal = 0o17
            binary = 0b101
            empty = ""
            list = [
              "a",  # first
              'b',
              # between
              "c",
            ]
            nested = [[1, 2], [], ["x"]]
            inline = { location = "mirror.example.com", insecure = true }
            dotted.key = "x"
            """)
        XCTAssertEqual(table["bare_key-1"], .string("basic \"quoted\" \t é 😀"))
        XCTAssertEqual(table["quoted key"], .string("C:\\literal\\path"))
        XCTAssertEqual(table["literal key"], .boolean(true))
        XCTAssertEqual(table["off"], .boolean(false))
        XCTAssertEqual(table["count"], .integer(1000))
        XCTAssertEqual(table["negative"], .integer(-42))
        XCTAssertEqual(table["hex"], .integer(255))
        XCTAssertEqual(table["octal"], .integer(15))
        XCTAssertEqual(table["binary"], .integer(5))
        XCTAssertEqual(table["empty"], .string(""))
        XCTAssertEqual(table["list"], .array([.string("a"), .string("b"), .string("c")]))
        XCTAssertEqual(table["nested"], .array([.array([.integer(1), .integer(2)]), .array([]), .array([.string("x")])]))
        guard case .table(let inline)? = table["inline"] else { return XCTFail("inline table") }
        XCTAssertEqual(inline["location"], .string("mirror.example.com"))
        XCTAssertEqual(inline["insecure"], .boolean(true))
        guard case .table(let dotted)? = table["dotted"] else { return XCTFail("dotted key") }
        XCTAssertEqual(dotted["key"], .string("x"))
        XCTAssertEqual(table.line(of: "off"), 5)
    }

    func testMirrorTablesBelongToTheLastRegistry() throws {
        let table = try TOMLParser.parse(
            """
            [[registry]]
            location = "one.example.com"
            [[registry.mirror]]
            location = "m1.example.com"
            [[registry.mirror]]
            location = "m2.example.com"

            [[registry]]
            location = "two.example.com"
            [[registry.mirror]]
            location = "m3.example.com"

            [aliases]
            "app" = "quay.io/org/app"
            """)
        guard case .array(let registries)? = table["registry"], registries.count == 2,
            case .table(let first) = registries[0], case .table(let second) = registries[1]
        else { return XCTFail("two registries") }
        XCTAssertEqual(first["location"], .string("one.example.com"))
        XCTAssertEqual(first.line, 1)
        guard case .array(let firstMirrors)? = first["mirror"], case .array(let secondMirrors)? = second["mirror"] else { return XCTFail("mirrors") }
        XCTAssertEqual(firstMirrors.count, 2)
        XCTAssertEqual(secondMirrors.count, 1)
        guard case .table(let mirror) = secondMirrors[0] else { return XCTFail() }
        XCTAssertEqual(mirror["location"], .string("m3.example.com"))
        XCTAssertEqual(mirror.line, 10)
        guard case .table(let aliases)? = table["aliases"] else { return XCTFail("aliases") }
        XCTAssertEqual(aliases["app"], .string("quay.io/org/app"))
    }

    func testMultiLineStringsAndLineEndings() throws {
        let table = try TOMLParser.parse("a = \"\"\"\r\nline one\r\nline \\\r\n    two\"\"\"\r\nb = '''\nraw \\n ''text'''''\r\n")
        XCTAssertEqual(table["a"], .string("line one\nline two"))
        XCTAssertEqual(table["b"], .string("raw \\n ''text''"))
    }

    func testHeadersWithSpacesAndQuotedParts() throws {
        let table = try TOMLParser.parse("[ a . \"b.c\" ]\nx = 1\n[a]\ny = 2\n")
        guard case .table(let a)? = table["a"], case .table(let inner)? = a["b.c"] else { return XCTFail() }
        XCTAssertEqual(inner["x"], .integer(1))
        XCTAssertEqual(a["y"], .integer(2))
    }

    func testErrorsNameTheLineAndTheProblem() {
        let cases: [(String, Int, String)] = [
            ("[[registry]]\nlocation \"x\"", 2, "expected \"=\" after key \"location\""),
            ("a = \"unterminated\n", 1, "not closed"),
            ("a = 1\nb = 2\na = 3", 3, "key \"a\" is set twice (first on line 1)"),
            ("[t]\n[t]", 2, "table [t] is defined twice"),
            ("a = \"bad \\q escape\"", 1, "invalid escape"),
            ("a = hello", 1, "strings must be quoted"),
            ("\n\na = [1,\n2", 3, "not closed"),
            ("a = [1 2]", 1, "expected \",\" or \"]\""),
            ("a = 1 b = 2", 1, "unexpected \"b\""),
            ("a = 1.5", 1, "floating-point"),
            ("a = 1979-05-27", 1, "dates"),
            ("a = 99999999999999999999", 1, "out of range"),
            ("a = 012", 1, "not a valid integer"),
            ("a = 1__0", 1, "not a valid integer"),
            ("a = 1\n[[a]]", 2, "already an integer"),
            ("[[r]]\n[r]", 2, "array of tables"),
            ("[a\nx = 1", 1, "expected \"]\""),
            ("= 1", 1, "expected a key"),
            ("a =", 1, "expected a value"),
            ("a = \"\\u12\"", 1, "hexadecimal"),
            ("a = '''never closed", 1, "not closed"),
            ("a = {x = 1", 1, "not closed"),
            ("a = \"tab\tok but bell \u{07}\"", 1, "control character"),
            ("a = 1\rb = 2", 1, "carriage return"),
        ]
        for (text, line, fragment) in cases {
            XCTAssertThrowsError(try TOMLParser.parse(text), text) { error in
                guard let error = error as? TOMLSyntaxError else { return XCTFail("\(error)") }
                XCTAssertEqual(error.line, line, "\(text): \(error.message)")
                XCTAssertTrue(error.message.contains(fragment), "\(text): \(error.message)")
            }
        }
    }

    func testDeepNestingIsRefused() throws {
        XCTAssertNoThrow(try TOMLParser.parse("a = " + String(repeating: "[", count: 64) + String(repeating: "]", count: 64)))
        XCTAssertThrowsError(try TOMLParser.parse("a = " + String(repeating: "[", count: 100_000))) { error in
            XCTAssertTrue((error as? TOMLSyntaxError)?.message.contains("nested") ?? false, "\(error)")
        }
    }

    func testEmptyAndCommentOnlyDocuments() throws {
        XCTAssertEqual(try TOMLParser.parse(""), TOMLTable())
        XCTAssertEqual(try TOMLParser.parse("# nothing\n\n   # here\n"), TOMLTable())
    }
}
