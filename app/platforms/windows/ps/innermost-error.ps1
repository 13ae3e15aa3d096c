# A COM failure reaches PowerShell wrapped (MethodInvocationException, HResult 0x80131501); the code
# worth reporting is the innermost exception's, e.g. WUA's 0x8024402C.
function Get-PatchdeskInnermost($err) {
  $e = $err.Exception
  while ($null -ne $e.InnerException) { $e = $e.InnerException }
  $e
}
