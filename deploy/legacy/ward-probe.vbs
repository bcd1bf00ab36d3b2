' ward-probe.vbs: Ward's legacy probe for machines the agent cannot run on (Windows XP SP2 and
' later, Server 2003 and later). Windows Script Host + WMI only: no PowerShell, no .NET.
'
' Usage:   cscript //nologo //B ward-probe.vbs \\server\ward-drop$
'          cscript //nologo ward-probe.vbs OUTDIR [/site:NAME] [/department:NAME]
'
' Writes one report in the agent's wire format (schema_version 1, see docs/wire-protocol.md)
' as OUTDIR\HOSTNAME-YYYYMMDDHHMMSS.json: first to a ".tmp" name, then renamed, so a collector
' watching the folder never reads a half-written file. The JSON is pure ASCII (every other
' character is written as \uXXXX), so it is valid UTF-8 whatever the machine's code page.
' A field WMI cannot give goes into "errors" with the reason; the probe never stops for one.
'
' Exit codes: 0 written, 1 usage, 2 the report could not be written to OUTDIR.
Option Explicit

Const PROBE_VERSION = "1.0.0"
Const HKLM = &H80000002

Dim outDir, site, department, i, arg
outDir = ""
site = ""
department = ""
For i = 0 To WScript.Arguments.Count - 1
    arg = WScript.Arguments(i)
    If LCase(Left(arg, 6)) = "/site:" Then
        site = Mid(arg, 7)
    ElseIf LCase(Left(arg, 12)) = "/department:" Then
        department = Mid(arg, 13)
    ElseIf outDir = "" Then
        outDir = arg
    End If
Next
If outDir = "" Then
    WScript.Echo "usage: cscript //nologo ward-probe.vbs OUTDIR [/site:NAME] [/department:NAME]"
    WScript.Quit 1
End If

Dim errs : errs = ""            ' JSON objects for "errors", comma separated
Dim wmi, fso, shell
Set fso = CreateObject("Scripting.FileSystemObject")
Set shell = CreateObject("WScript.Shell")
On Error Resume Next
Set wmi = GetObject("winmgmts:{impersonationLevel=impersonate}!\\.\root\cimv2")
If Err.Number <> 0 Then
    AddError "os", "WMI is not available: " & Err.Description
    Err.Clear
End If
On Error GoTo 0

' ---------- JSON helpers ----------
Function J(ByVal v)
    Dim k, c, code, out
    If IsNull(v) Or IsEmpty(v) Then
        J = "null"
        Exit Function
    End If
    v = CStr(v)
    out = ""
    For k = 1 To Len(v)
        c = Mid(v, k, 1)
        code = CodeOf(c)
        If c = """" Then
            out = out & "\"""
        ElseIf c = "\" Then
            out = out & "\\"
        ElseIf code < 32 Or code > 126 Then
            If code = 0 Then
                ' NUL padding from WMI strings: dropped.
            Else
                out = out & "\u" & Right("000" & LCase(Hex(code)), 4)
            End If
        Else
            out = out & c
        End If
    Next
    J = """" & out & """"
End Function

' The UTF-16 code unit of a character. Wine's VBScript has no AscW; Asc is the fallback there.
Function CodeOf(c)
    On Error Resume Next
    CodeOf = AscW(c)
    If Err.Number <> 0 Then
        Err.Clear
        CodeOf = Asc(c)
    End If
    On Error GoTo 0
    CodeOf = CodeOf And 65535
End Function

' A trimmed string or Null when empty.
Function S(v)
    S = Null
    If IsNull(v) Or IsEmpty(v) Then Exit Function
    Dim t : t = Trim(CStr(v))
    Do While Len(t) > 0 And Right(t, 1) = Chr(0)
        t = Left(t, Len(t) - 1)
    Loop
    If t <> "" Then S = t
End Function

Function N(v)
    If IsNull(v) Or IsEmpty(v) Then
        N = "null"
    ElseIf CStr(v) = "" Then
        N = "null"
    Else
        N = CStr(v)
    End If
End Function

Function Kv(key, value)
    Kv = """" & key & """:" & value
End Function

Sub AddError(field, reason)
    If errs <> "" Then errs = errs & ","
    errs = errs & "{" & Kv("field", J(field)) & "," & Kv("reason", J(reason)) & "}"
End Sub

Function Pad2(x)
    Pad2 = Right("0" & CStr(x), 2)
End Function

Function IsoUtc(d)
    IsoUtc = Year(d) & "-" & Pad2(Month(d)) & "-" & Pad2(Day(d)) & "T" & _
        Pad2(Hour(d)) & ":" & Pad2(Minute(d)) & ":" & Pad2(Second(d)) & "Z"
End Function

' WMI datetime "20150101123000.000000+060" -> ISO UTC string (JSON) or null.
Function WmiTime(v)
    WmiTime = "null"
    If IsNull(v) Or IsEmpty(v) Then Exit Function
    Dim t, d, off
    t = CStr(v)
    If Len(t) < 14 Then Exit Function
    On Error Resume Next
    d = DateSerial(CInt(Mid(t, 1, 4)), CInt(Mid(t, 5, 2)), CInt(Mid(t, 7, 2))) + _
        TimeSerial(CInt(Mid(t, 9, 2)), CInt(Mid(t, 11, 2)), CInt(Mid(t, 13, 2)))
    off = 0
    If Len(t) >= 25 Then off = CInt(Mid(t, 22, 4))
    If Err.Number <> 0 Then
        Err.Clear
        Exit Function
    End If
    On Error GoTo 0
    WmiTime = """" & IsoUtc(DateAdd("n", -off, d)) & """"
End Function

' WMI datetime -> "YYYY-MM-DD" (JSON) or null.
Function WmiDate(v)
    WmiDate = "null"
    If IsNull(v) Or IsEmpty(v) Then Exit Function
    Dim t : t = CStr(v)
    If Len(t) >= 8 Then
        If IsNumeric(Left(t, 8)) Then WmiDate = """" & Mid(t, 1, 4) & "-" & Mid(t, 5, 2) & "-" & Mid(t, 7, 2) & """"
    End If
End Function

' Win32_QuickFixEngineering.InstalledOn: "3/18/2014", "20190321", or FILETIME hex on Vista.
Function QfeDate(v)
    QfeDate = "null"
    Dim t, p
    t = S(v)
    If IsNull(t) Then Exit Function
    If Len(t) = 8 And IsNumeric(t) Then
        QfeDate = IsoDay(CInt(Mid(t, 1, 4)), CInt(Mid(t, 5, 2)), CInt(Mid(t, 7, 2)))
        Exit Function
    End If
    p = Split(t, "/")
    If UBound(p) = 2 Then
        If IsNumeric(p(0)) And IsNumeric(p(1)) And IsNumeric(Left(p(2), 4)) Then
            QfeDate = IsoDay(CInt(Left(p(2), 4)), CInt(p(0)), CInt(p(1)))
        End If
    End If
End Function

' A JSON day from year, month, day; month and day swapped when only that makes a date
' (WMI writes M/D/YYYY, some builds D/M/YYYY); null when neither does.
Function IsoDay(y, m, d)
    Dim t
    IsoDay = "null"
    If m > 12 And d <= 12 Then
        t = m : m = d : d = t
    End If
    If y < 1980 Or m < 1 Or m > 12 Or d < 1 Or d > 31 Then Exit Function
    If Month(DateSerial(y, m, d)) <> m Then Exit Function
    IsoDay = """" & y & "-" & Pad2(m) & "-" & Pad2(d) & """"
End Function

Function NewId()
    Dim g, k, h
    g = ""
    On Error Resume Next
    g = CreateObject("Scriptlet.TypeLib").Guid
    On Error GoTo 0
    If Len(g) >= 38 Then
        NewId = LCase(Mid(g, 2, 36))
        Exit Function
    End If
    ' No Scriptlet.TypeLib: a random version-4 style id.
    Randomize
    h = ""
    For k = 1 To 32
        h = h & LCase(Hex(Int(Rnd * 16)))
    Next
    NewId = Mid(h, 1, 8) & "-" & Mid(h, 9, 4) & "-4" & Mid(h, 14, 3) & "-a" & Mid(h, 18, 3) & "-" & Mid(h, 21, 12)
End Function

' One WMI query; Nothing (and an error entry) when it fails.
Function Query(field, wql)
    Set Query = Nothing
    If IsEmpty(wmi) Then Exit Function
    If Not IsObject(wmi) Then Exit Function
    On Error Resume Next
    Dim r
    Set r = wmi.ExecQuery(wql)
    If Err.Number = 0 Then
        Dim cnt : cnt = r.Count
    End If
    If Err.Number <> 0 Then
        AddError field, "WMI query failed: " & Err.Description
        Err.Clear
        Exit Function
    End If
    On Error GoTo 0
    Set Query = r
End Function

' ---------- Collection ----------
Dim o, rs
Dim hostName, domain, fqdn, manufacturer, model, ramBytes, partOfDomain
Dim osName, osVersion, osBuild, osSp, osArch, installDate, bootTime, productType, collectedAt
Dim hwUuid, serial, biosVendor, biosVersion, biosDate
Dim cpuBrand, cpuVendor, cpuId, cpuCores, cpuThreads, cpuMhz
hostName = Null : domain = Null : fqdn = Null : manufacturer = Null : model = Null
ramBytes = "null" : partOfDomain = Empty
osName = Null : osVersion = Null : osBuild = Null : osSp = Null : osArch = Null
installDate = "null" : bootTime = "null" : productType = 1
hwUuid = Null : serial = Null : biosVendor = Null : biosVersion = Null : biosDate = "null"
cpuBrand = Null : cpuVendor = Null : cpuId = Null : cpuCores = "null" : cpuThreads = "null" : cpuMhz = "null"
collectedAt = ""

Set rs = Query("os", "SELECT * FROM Win32_OperatingSystem")
If Not rs Is Nothing Then
    On Error Resume Next
    For Each o In rs
        osName = S(o.Caption)
        osVersion = S(o.Version)
        osBuild = S(o.BuildNumber)
        osSp = S(o.CSDVersion)
        osArch = S(o.OSArchitecture)        ' absent on XP/2003: filled below
        installDate = WmiTime(o.InstallDate)
        bootTime = WmiTime(o.LastBootUpTime)
        productType = o.ProductType
        Dim nowUtc : nowUtc = WmiTime(o.LocalDateTime)
        If nowUtc <> "null" Then collectedAt = Mid(nowUtc, 2, 20)
    Next
    Err.Clear
    On Error GoTo 0
End If
If collectedAt = "" Then
    ' No WMI clock: local time, flagged.
    collectedAt = IsoUtc(Now)
    AddError "collected_at", "WMI gave no LocalDateTime; the local clock was taken as UTC"
End If

Set rs = Query("host", "SELECT * FROM Win32_ComputerSystem")
If Not rs Is Nothing Then
    On Error Resume Next
    For Each o In rs
        hostName = S(o.Name)
        domain = S(o.Domain)
        manufacturer = S(o.Manufacturer)
        model = S(o.Model)
        If Not IsNull(o.TotalPhysicalMemory) Then ramBytes = CStr(o.TotalPhysicalMemory)
        partOfDomain = Empty
        partOfDomain = o.PartOfDomain
        ' Outside a domain the "Domain" is the workgroup name: not an identity.
        If Not IsEmpty(partOfDomain) And Not IsNull(partOfDomain) Then
            If Not CBool(partOfDomain) Then domain = Null
        End If
        If Not IsNull(o.NumberOfLogicalProcessors) Then cpuThreads = CStr(o.NumberOfLogicalProcessors)
        If IsNull(osArch) Then
            If InStr(LCase(S(o.SystemType) & ""), "x64") > 0 Then osArch = "64-bit" Else osArch = "32-bit"
        End If
    Next
    Err.Clear
    On Error GoTo 0
End If
If IsNull(hostName) Then hostName = S(shell.ExpandEnvironmentStrings("%COMPUTERNAME%"))
If Not IsNull(domain) And Not IsNull(hostName) Then
    If InStr(domain, ".") > 0 Then fqdn = LCase(hostName & "." & domain)
End If

Set rs = Query("host.hardware_uuid", "SELECT UUID, IdentifyingNumber FROM Win32_ComputerSystemProduct")
If Not rs Is Nothing Then
    On Error Resume Next
    For Each o In rs
        hwUuid = S(o.UUID)
        serial = S(o.IdentifyingNumber)
    Next
    Err.Clear
    On Error GoTo 0
End If
If Not IsNull(hwUuid) Then
    If hwUuid = "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF" Or hwUuid = "00000000-0000-0000-0000-000000000000" Then hwUuid = Null
End If

Set rs = Query("hardware.bios", "SELECT * FROM Win32_BIOS")
If Not rs Is Nothing Then
    On Error Resume Next
    For Each o In rs
        biosVendor = S(o.Manufacturer)
        biosVersion = S(o.SMBIOSBIOSVersion)
        If IsNull(biosVersion) Then biosVersion = S(o.Version)
        biosDate = WmiDate(o.ReleaseDate)
        If IsNull(serial) Then serial = S(o.SerialNumber)
    Next
    Err.Clear
    On Error GoTo 0
End If
If Not IsNull(serial) Then
    Select Case LCase(serial)
        Case "to be filled by o.e.m.", "system serial number", "default string", "0", "none"
            serial = Null
    End Select
End If

Set rs = Query("hardware.cpu", "SELECT * FROM Win32_Processor")
If Not rs Is Nothing Then
    On Error Resume Next
    For Each o In rs
        If IsNull(cpuBrand) Then
            cpuBrand = S(o.Name)
            cpuVendor = S(o.Manufacturer)
            cpuId = S(o.Description)
            If Not IsNull(o.MaxClockSpeed) Then cpuMhz = CStr(o.MaxClockSpeed)
            If Not IsNull(o.NumberOfCores) Then cpuCores = CStr(o.NumberOfCores)
        End If
    Next
    Err.Clear
    On Error GoTo 0
End If

' Disks: fixed volumes.
Dim disks, sysDrive
disks = ""
sysDrive = UCase(shell.ExpandEnvironmentStrings("%SystemDrive%"))
Set rs = Query("hardware.disks", "SELECT DeviceID, FileSystem, Size, FreeSpace FROM Win32_LogicalDisk WHERE DriveType = 3")
If Not rs Is Nothing Then
    On Error Resume Next
    For Each o In rs
        If disks <> "" Then disks = disks & ","
        disks = disks & "{" & Kv("name", J(S(o.DeviceID))) & "," & Kv("mount_point", J(S(o.DeviceID) & "\")) & "," & _
            Kv("file_system", J(S(o.FileSystem))) & "," & Kv("size_bytes", N(o.Size)) & "," & _
            Kv("free_bytes", N(o.FreeSpace)) & "," & Kv("kind", """unknown""") & "," & _
            Kv("system", LCase(CStr(UCase(S(o.DeviceID) & "") = sysDrive))) & "}"
    Next
    Err.Clear
    On Error GoTo 0
End If

' Hotfixes: the full Win32_QuickFixEngineering list.
Dim fixes, seen, id
fixes = ""
Set seen = CreateObject("Scripting.Dictionary")
Set rs = Query("patches.installed", "SELECT HotFixID, Description, InstalledOn FROM Win32_QuickFixEngineering")
If Not rs Is Nothing Then
    On Error Resume Next
    For Each o In rs
        id = S(o.HotFixID)
        If Not IsNull(id) Then
            If id <> "File 1" And Not seen.Exists(UCase(id)) Then
                seen.Add UCase(id), True
                If fixes <> "" Then fixes = fixes & ","
                fixes = fixes & "{" & Kv("id", J(id)) & "," & Kv("kind", J(S(o.Description))) & "," & _
                    Kv("installed_on", QfeDate(o.InstalledOn)) & "}"
            End If
        End If
    Next
    Err.Clear
    On Error GoTo 0
End If

' Network: MACs and addresses of IP-enabled adapters.
Dim macs, ips, a
macs = ""
ips = ""
Set rs = Query("host.mac_addresses", "SELECT MACAddress, IPAddress FROM Win32_NetworkAdapterConfiguration WHERE IPEnabled = True")
If Not rs Is Nothing Then
    On Error Resume Next
    For Each o In rs
        If Not IsNull(o.MACAddress) Then
            If macs <> "" Then macs = macs & ","
            macs = macs & J(LCase(Replace(S(o.MACAddress), "-", ":")))
        End If
        If IsArray(o.IPAddress) Then
            For Each a In o.IPAddress
                If Not IsNull(S(a)) Then
                    If ips <> "" Then ips = ips & ","
                    ips = ips & J(S(a))
                End If
            Next
        End If
    Next
    Err.Clear
    On Error GoTo 0
End If

' SMBv1 server: LanmanServer\Parameters\SMB1 (0 = off). Absent means on before Windows 10;
' on Windows 10/2016 and later it depends on the SMB1 feature, which this probe cannot read.
Dim reg, smb1, smb1Value, rc, major, verParts
smb1 = "null"
major = 0
If Not IsNull(osVersion) Then
    verParts = Split(osVersion, ".")
    If IsNumeric(verParts(0)) Then major = CInt(verParts(0))
End If
On Error Resume Next
Set reg = GetObject("winmgmts:{impersonationLevel=impersonate}!\\.\root\default:StdRegProv")
If Err.Number = 0 Then
    rc = reg.GetDWORDValue(HKLM, "SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters", "SMB1", smb1Value)
    If rc = 0 And Not IsNull(smb1Value) Then
        If smb1Value = 0 Then smb1 = "false" Else smb1 = "true"
    ElseIf major > 0 And major < 10 Then
        smb1 = "true"
    Else
        AddError "security.smb1_server_enabled", "no SMB1 registry value; on Windows 10 and later the SMB1 feature decides"
    End If
Else
    AddError "security.smb1_server_enabled", "registry provider not available: " & Err.Description
End If
Err.Clear
On Error GoTo 0

' srv.sys version, for the MS17-010 check.
Dim srvSys, srvPath
srvSys = Null
srvPath = shell.ExpandEnvironmentStrings("%SystemRoot%") & "\system32\drivers\srv.sys"
On Error Resume Next
If fso.FileExists(srvPath) Then
    srvSys = S(fso.GetFileVersion(srvPath))
    If IsNull(srvSys) Then AddError "security.srv_sys_version", "srv.sys has no version resource"
Else
    AddError "security.srv_sys_version", "srv.sys not found (SMB server driver absent)"
End If
Err.Clear
On Error GoTo 0

' ---------- The report ----------
Dim arch, instType, version, build, spOut, json
arch = Null
If Not IsNull(osArch) Then
    If InStr(osArch, "64") > 0 Then arch = "x86_64" Else arch = "x86"
End If
If productType = 1 Then instType = "Client" Else instType = "Server"
version = Null : build = osBuild
If Not IsNull(osVersion) Then
    Dim vp : vp = Split(osVersion, ".")
    If UBound(vp) >= 1 Then version = vp(0) & "." & vp(1)
End If

Dim hostJ, osJ, hwJ, cpuJ
hostJ = "{" & Kv("hostname", J(hostName)) & "," & Kv("fqdn", J(fqdn)) & "," & Kv("domain", J(domain))
hostJ = hostJ & "," & Kv("hardware_uuid", J(hwUuid)) & "," & Kv("mac_addresses", "[" & macs & "]")
hostJ = hostJ & "," & Kv("ip_addresses", "[" & ips & "]") & "}"
osJ = "{" & Kv("family", J("windows")) & "," & Kv("name", J(osName)) & "," & Kv("id", J("windows"))
osJ = osJ & "," & Kv("version", J(version)) & "," & Kv("build", J(build)) & "," & Kv("service_pack", J(osSp))
osJ = osJ & "," & Kv("architecture", J(arch)) & "," & Kv("installation_type", J(instType))
osJ = osJ & "," & Kv("install_date", installDate) & "," & Kv("boot_time", bootTime) & "}"
cpuJ = "{" & Kv("brand", J(cpuBrand)) & "," & Kv("vendor", J(cpuVendor)) & "," & Kv("identifier", J(cpuId))
cpuJ = cpuJ & "," & Kv("cores", cpuCores) & "," & Kv("threads", cpuThreads) & "," & Kv("max_clock_mhz", cpuMhz) & "}"
hwJ = "{" & Kv("manufacturer", J(manufacturer)) & "," & Kv("model", J(model)) & "," & Kv("serial", J(serial))
hwJ = hwJ & "," & Kv("bios", "{" & Kv("vendor", J(biosVendor)) & "," & Kv("version", J(biosVersion)) & "," & Kv("release_date", biosDate) & "}")
hwJ = hwJ & "," & Kv("cpu", cpuJ) & "," & Kv("ram_bytes", ramBytes) & "," & Kv("disks", "[" & disks & "]") & "}"

json = "{" & Kv("schema_version", "1") & "," & Kv("report_id", J(NewId())) & "," & Kv("collected_at", J(collectedAt))
json = json & "," & Kv("agent", "{" & Kv("name", J("ward-probe")) & "," & Kv("version", J(PROBE_VERSION)) & "}")
json = json & "," & Kv("host", hostJ) & "," & Kv("os", osJ)
json = json & "," & Kv("patches", "{" & Kv("installed", "[" & fixes & "]") & "}")
json = json & "," & Kv("hardware", hwJ)
json = json & "," & Kv("security", "{" & Kv("smb1_server_enabled", smb1) & "," & Kv("srv_sys_version", J(srvSys)) & "}")
json = json & "," & Kv("tags", "{" & Kv("site", J(S(site))) & "," & Kv("department", J(S(department))) & "}")
json = json & "," & Kv("errors", "[" & errs & "]") & "}"

' ---------- Write: temp name, then rename ----------
Dim stamp, baseName, tmpPath, finalPath, f
stamp = Replace(Replace(Replace(Left(collectedAt, 19), "-", ""), ":", ""), "T", "")
baseName = hostName
If IsNull(baseName) Then baseName = "unknown"
finalPath = fso.BuildPath(outDir, baseName & "-" & stamp & ".json")
tmpPath = finalPath & ".tmp"
On Error Resume Next
Set f = fso.CreateTextFile(tmpPath, True, False)
If Err.Number = 0 Then
    f.Write json
    f.Close
End If
If Err.Number = 0 Then
    If fso.FileExists(finalPath) Then fso.DeleteFile finalPath, True
    fso.MoveFile tmpPath, finalPath
End If
If Err.Number <> 0 Then
    WScript.Echo "ward-probe: cannot write " & finalPath & ": " & Err.Description
    WScript.Quit 2
End If
On Error GoTo 0
WScript.Echo "ward-probe: wrote " & finalPath
WScript.Quit 0
