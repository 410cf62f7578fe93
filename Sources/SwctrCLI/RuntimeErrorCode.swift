import Runtime

/// Errors that carry Docker's exit code (126/127) rather than 125.
typealias RuntimeErrorCode = RuntimeError
