// swctr's entry point. Internal roles (re-executions of this binary that users never type) are
// dispatched before argument parsing; by then the pre-exec stage in CNamespaces has already put
// the process in its namespaces.
import Containers
import Runtime
import SwctrCLI

let arguments = CommandLine.arguments
if arguments.count >= 2 {
    let roleArguments = Array(arguments.dropFirst(2))
    switch arguments[1] {
    case ContainerInitRole.name:
        ContainerInit.main(specPath: roleArguments.first ?? "")
    case ContainerMonitor.roleName:
        ContainerMonitor.main(arguments: roleArguments)
    case ContainerExec.roleName:
        ContainerExec.main(processJSON: roleArguments.first ?? "")
    case UserNamespaceTools.unpackRole:
        UserNamespaceTools.unpackRoleMain(roleArguments)
    case UserNamespaceTools.removeRole:
        UserNamespaceTools.removeRoleMain(roleArguments)
    default:
        break
    }
}
Swctr.main()
