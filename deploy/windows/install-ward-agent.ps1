<#
.SYNOPSIS
  Installs (or upgrades) the Ward agent as a Windows service without the MSI.

.DESCRIPTION
  Copies ward-agent.exe to "$env:ProgramFiles\Ward", registers the WardAgent service (automatic
  start, restart on failure) with the enrollment settings, and starts it. The service enrolls on
  its first start, keeps state and spool in "$env:ProgramData\Ward" (SYSTEM and Administrators
  only) and logs there and to the Application event log (source WardAgent).
  Run again with a newer exe to upgrade in place: the service is stopped, the exe replaced and the
  service started again; the enrollment and the spool stay.

.EXAMPLE
  powershell -ExecutionPolicy Bypass -File install-ward-agent.ps1 `
      -Source \\fs01\it\ward\ward-agent.exe -Server https://ward.trust.nhs.uk:8443 `
      -EnrollSecret (Get-Content \\fs01\it\ward\enroll-secret) -CA \\fs01\it\ward\ca.pem

.EXAMPLE
  # Remove the service (state stays in ProgramData for a reinstall).
  powershell -ExecutionPolicy Bypass -File install-ward-agent.ps1 -Uninstall
#>
[CmdletBinding(DefaultParameterSetName = 'Install')]
param(
    [Parameter(ParameterSetName = 'Install', Mandatory = $true)] [string] $Source,
    [Parameter(ParameterSetName = 'Install')] [string] $Server,
    [Parameter(ParameterSetName = 'Install')] [string] $EnrollSecret,
    [Parameter(ParameterSetName = 'Install')] [string] $CA,
    [Parameter(ParameterSetName = 'Uninstall', Mandatory = $true)] [switch] $Uninstall
)
$ErrorActionPreference = 'Stop'

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    throw 'Run this script as Administrator.'
}
if ([Environment]::OSVersion.Version.Major -lt 10) {
    throw 'The Ward agent needs Windows 10 / Server 2016 or later; see the README for older systems.'
}

$dir = Join-Path $env:ProgramFiles 'Ward'
$exe = Join-Path $dir 'ward-agent.exe'
$service = Get-Service -Name WardAgent -ErrorAction SilentlyContinue

function Invoke-Agent([string[]] $Arguments) {
    & $exe @Arguments
    if ($LASTEXITCODE -ne 0) { throw "ward-agent $($Arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

if ($Uninstall) {
    if ($service) { Invoke-Agent @('service', 'uninstall') } else { Write-Host 'WardAgent is not installed.' }
    return
}

if (-not (Test-Path $Source)) { throw "No ward-agent.exe at $Source" }
if ($service) {
    if ($service.Status -ne 'Stopped') { Stop-Service -Name WardAgent; $service.WaitForStatus('Stopped', '00:01:00') }
    New-Item -ItemType Directory -Force -Path $dir | Out-Null
    Copy-Item -Force $Source $exe
    Write-Host 'WardAgent upgraded in place.'
} else {
    if (-not ($Server -and $EnrollSecret -and $CA)) {
        throw 'A first install needs -Server, -EnrollSecret and -CA.'
    }
    New-Item -ItemType Directory -Force -Path $dir | Out-Null
    Copy-Item -Force $Source $exe
    Invoke-Agent @('service', 'install', '--server', $Server, '--enroll-secret', $EnrollSecret, '--ca', $CA)
}
Invoke-Agent @('service', 'start')
