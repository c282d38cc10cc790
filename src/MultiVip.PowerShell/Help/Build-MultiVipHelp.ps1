<#
.SYNOPSIS
Writes the module's MAML help (en-US/MultiVip.PowerShell.dll-Help.xml) from Help/<cmdlet>.md.

.DESCRIPTION
One source for Get-Help: the text (synopsis, description, one section per parameter, examples,
notes, related links) is in Help/<cmdlet>.md; everything PowerShell already knows about a cmdlet
(parameter sets, positions, mandatory, pipeline input, aliases, types, ValidateSet values, output
types) is read from the imported module itself, so syntax and parameter attributes in the help can
never disagree with the code.

Fails, naming each problem, when a cmdlet has no help file, or its file lacks a synopsis, a
description, an example, or the section of one of its parameters, or documents a parameter the
cmdlet does not have. tests/MultiVip.PowerShell.Tests/HelpTests.cs runs this against the built
module and fails when the committed XML differs from what it writes.

Run it after changing a cmdlet or a help file:
    ./multivip-ps -File src/MultiVip.PowerShell/Help/Build-MultiVipHelp.ps1
#>
[CmdletBinding()]
param(
    # The module to read the cmdlets from; default: the one ./multivip-ps builds.
    [string] $ModulePath = (Join-Path $PSScriptRoot '../../../artifacts/powershell/MultiVip/MultiVip.psd1'),

    # The folder of <cmdlet>.md files.
    [string] $HelpSource = $PSScriptRoot,

    # Where the MAML goes; default: the committed file beside the module's sources.
    [string] $OutFile = (Join-Path $PSScriptRoot '../en-US/MultiVip.PowerShell.dll-Help.xml')
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$maml = 'http://schemas.microsoft.com/maml/2004/10'
$commandNs = 'http://schemas.microsoft.com/maml/dev/command/2004/10'
$devNs = 'http://schemas.microsoft.com/maml/dev/2004/10'

# Parameters every cmdlet gets from PowerShell; Get-Help documents them itself (<CommonParameters>).
$common = [System.Management.Automation.PSCmdlet]::CommonParameters + @('UseTransaction')

# WhatIf/Confirm read the same on every cmdlet that supports ShouldProcess; a help file may still say more.
$standard = @{
    WhatIf  = @('Shows what would happen if the cmdlet runs. The cmdlet is not run and nothing is changed on the server.')
    Confirm = @('Prompts you for confirmation before running the cmdlet.')
}

function Read-HelpFile([string] $Path) {
    # Sections: '## NAME' at level 2, '### name' inside PARAMETERS and EXAMPLES; ``` fences are verbatim.
    $doc = @{ Title = $null; Sections = [ordered]@{}; Parameters = [ordered]@{}; Examples = [System.Collections.Generic.List[object]]::new() }
    $h2 = $null
    $target = $null
    $fence = $null
    foreach ($line in (Get-Content -LiteralPath $Path -Encoding utf8)) {
        if ($null -ne $fence) {
            if ($line -match '^```\s*$') {
                $target.Code.Add(($fence -join "`n"))
                $fence = $null
            }
            else {
                $fence.Add($line)
            }
            continue
        }

        if ($line -match '^# (.+)$') { $doc.Title = $Matches[1].Trim(); continue }
        if ($line -match '^## (.+)$') {
            $h2 = $Matches[1].Trim().ToUpperInvariant()
            $target = @{ Lines = [System.Collections.Generic.List[string]]::new(); Code = [System.Collections.Generic.List[string]]::new() }
            $doc.Sections[$h2] = $target
            continue
        }
        if ($line -match '^### (.+)$') {
            $name = $Matches[1].Trim()
            $target = @{ Title = $name; Lines = [System.Collections.Generic.List[string]]::new(); Code = [System.Collections.Generic.List[string]]::new() }
            if ($h2 -eq 'PARAMETERS') { $doc.Parameters[$name.TrimStart('-')] = $target }
            elseif ($h2 -eq 'EXAMPLES') { $doc.Examples.Add($target) }
            else { throw "${Path}: '### $name' is only allowed under PARAMETERS or EXAMPLES." }
            continue
        }
        if ($line -match '^```') {
            if ($null -eq $target) { throw "${Path}: a code block before any section." }
            $fence = [System.Collections.Generic.List[string]]::new()
            continue
        }
        if ($null -ne $target) { $target.Lines.Add($line) }
    }

    if ($null -ne $fence) { throw "${Path}: a code block is not closed." }
    return $doc
}

# Paragraphs: runs of lines joined with spaces; a blank line or a '- ' item starts a new one.
function Get-Paragraphs($Section) {
    if ($null -eq $Section) { return @() }
    $paras = [System.Collections.Generic.List[string]]::new()
    $current = [System.Collections.Generic.List[string]]::new()
    foreach ($line in $Section.Lines) {
        $text = $line.Trim()
        if ($text.Length -eq 0 -or $text.StartsWith('- ')) {
            if ($current.Count -gt 0) { $paras.Add(($current -join ' ')); $current.Clear() }
        }
        if ($text.Length -gt 0) { $current.Add($text) }
    }
    if ($current.Count -gt 0) { $paras.Add(($current -join ' ')) }
    return $paras.ToArray()
}

function Get-TypeName([type] $Type) {
    $inner = [Nullable]::GetUnderlyingType($Type)
    if ($null -ne $inner) { $Type = $inner }
    return $Type.Name
}

function Get-TypeFullName([type] $Type) {
    $inner = [Nullable]::GetUnderlyingType($Type)
    if ($null -ne $inner) { $Type = $inner }
    return $Type.FullName
}

function Write-Paras([System.Xml.XmlWriter] $Xml, [string[]] $Paras) {
    $Xml.WriteStartElement('maml', 'description', $maml)
    foreach ($p in $Paras) { $Xml.WriteElementString('maml', 'para', $maml, $p) }
    $Xml.WriteEndElement()
}

function Get-PipelineText($Metadata) {
    $ways = @()
    if ($Metadata.ValueFromPipeline) { $ways += 'ByValue' }
    if ($Metadata.ValueFromPipelineByPropertyName) { $ways += 'ByPropertyName' }
    if ($ways.Count -eq 0) { return 'False' }
    return "True ($($ways -join ', '))"
}

# One <command:parameter>: $Set is the parameter's metadata in a set (syntax) or across sets (parameters).
function Write-Parameter([System.Xml.XmlWriter] $Xml, $Parameter, [bool] $Required, [string] $Position, [string] $Pipeline, $Help, [bool] $InSyntax) {
    $isSwitch = $Parameter.ParameterType -eq [System.Management.Automation.SwitchParameter]
    $aliases = @($Parameter.Aliases)
    $Xml.WriteStartElement('command', 'parameter', $commandNs)
    $Xml.WriteAttributeString('required', $Required.ToString().ToLowerInvariant())
    $Xml.WriteAttributeString('variableLength', 'true')
    $Xml.WriteAttributeString('globbing', 'false')
    $Xml.WriteAttributeString('pipelineInput', $Pipeline)
    $Xml.WriteAttributeString('position', $Position)
    $Xml.WriteAttributeString('aliases', $(if ($aliases.Count -gt 0) { $aliases -join ', ' } else { 'none' }))
    $Xml.WriteElementString('maml', 'name', $maml, $Parameter.Name)
    # Get-Help reads descriptions, types and defaults from <command:parameters>; syntax items need only the shape.
    if (-not $InSyntax) { Write-Paras $Xml $Help.Paras }

    $validValues = @($Parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.ValidateSetAttribute] } | ForEach-Object ValidValues)
    if ($InSyntax -and $validValues.Count -gt 0) {
        $Xml.WriteStartElement('command', 'parameterValueGroup', $commandNs)
        foreach ($value in $validValues) {
            $Xml.WriteStartElement('command', 'parameterValue', $commandNs)
            $Xml.WriteAttributeString('required', 'false')
            $Xml.WriteAttributeString('command', 'variableLength', $commandNs, 'false')
            $Xml.WriteString($value)
            $Xml.WriteEndElement()
        }
        $Xml.WriteEndElement()
    }
    if (-not $isSwitch) {
        $Xml.WriteStartElement('command', 'parameterValue', $commandNs)
        $Xml.WriteAttributeString('required', 'true')
        $Xml.WriteAttributeString('variableLength', 'false')
        $Xml.WriteString((Get-TypeName $Parameter.ParameterType))
        $Xml.WriteEndElement()
    }
    if (-not $InSyntax) {
        $Xml.WriteStartElement('dev', 'type', $devNs)
        $Xml.WriteElementString('maml', 'name', $maml, (Get-TypeFullName $Parameter.ParameterType))
        $Xml.WriteEndElement()
        $Xml.WriteElementString('dev', 'defaultValue', $devNs, $(if ($Help.Default) { $Help.Default } elseif ($isSwitch) { 'False' } else { 'None' }))
    }
    $Xml.WriteEndElement()
}

$module = Import-Module $ModulePath -Force -PassThru
$cmdlets = @(Get-Command -Module $module.Name -CommandType Cmdlet | Sort-Object Name)
$problems = [System.Collections.Generic.List[string]]::new()
$docs = @{}

foreach ($cmdlet in $cmdlets) {
    $path = Join-Path $HelpSource "$($cmdlet.Name).md"
    if (-not (Test-Path -LiteralPath $path)) {
        $problems.Add("$($cmdlet.Name): no help file (Help/$($cmdlet.Name).md).")
        continue
    }

    $doc = Read-HelpFile $path
    $docs[$cmdlet.Name] = $doc
    if ($doc.Title -ne $cmdlet.Name) { $problems.Add("$($cmdlet.Name): the file's title is '$($doc.Title)', not '# $($cmdlet.Name)'.") }
    if (@(Get-Paragraphs $doc.Sections['SYNOPSIS']).Count -eq 0) { $problems.Add("$($cmdlet.Name): no SYNOPSIS.") }
    if (@(Get-Paragraphs $doc.Sections['DESCRIPTION']).Count -eq 0) { $problems.Add("$($cmdlet.Name): no DESCRIPTION.") }
    if ($doc.Examples.Count -eq 0) { $problems.Add("$($cmdlet.Name): no example.") }
    foreach ($example in $doc.Examples) {
        if ($example.Code.Count -eq 0) { $problems.Add("$($cmdlet.Name): example '$($example.Title)' has no code block.") }
    }

    $actual = @($cmdlet.Parameters.Keys | Where-Object { $_ -notin $common })
    foreach ($name in $actual) {
        $section = $doc.Parameters[$name]
        $paras = @(Get-Paragraphs $section | Where-Object { -not $_.StartsWith('Default value: ') })
        if ($paras.Count -eq 0 -and -not $standard.ContainsKey($name)) {
            $problems.Add("$($cmdlet.Name): parameter -$name has no help (### -$name under PARAMETERS).")
        }
    }
    foreach ($name in $doc.Parameters.Keys) {
        if ($name -notin $actual) { $problems.Add("$($cmdlet.Name): help for -$name, which the cmdlet does not have.") }
    }
}

foreach ($file in (Get-ChildItem -LiteralPath $HelpSource -Filter '*.md')) {
    if ($file.BaseName -notin $cmdlets.Name) { $problems.Add("$($file.Name): no cmdlet of that name in the module.") }
}

if ($problems.Count -gt 0) {
    throw "The help is incomplete:`n" + ($problems -join "`n")
}

function Get-ParameterHelp($Doc, [string] $Name) {
    $paras = @(Get-Paragraphs $Doc.Parameters[$Name])
    $default = $paras | Where-Object { $_.StartsWith('Default value: ') } | Select-Object -First 1
    $text = @($paras | Where-Object { -not $_.StartsWith('Default value: ') })
    if ($text.Count -eq 0) { $text = $standard[$Name] }
    return @{ Paras = $text; Default = $(if ($default) { $default.Substring('Default value: '.Length) } else { $null }) }
}

$settings = [System.Xml.XmlWriterSettings]::new()
$settings.Indent = $true
$settings.IndentChars = '  '
$settings.NewLineChars = "`n"
$settings.Encoding = [System.Text.UTF8Encoding]::new($false)
$buffer = [System.IO.MemoryStream]::new()
$xml = [System.Xml.XmlWriter]::Create($buffer, $settings)
$xml.WriteStartDocument()
$xml.WriteComment(' Generated by Help/Build-MultiVipHelp.ps1 from Help/*.md and the module''s cmdlet metadata. Edit those, not this file. ')
$xml.WriteStartElement('helpItems', 'http://msh')
$xml.WriteAttributeString('schema', 'maml')

foreach ($cmdlet in $cmdlets) {
    $doc = $docs[$cmdlet.Name]
    $xml.WriteStartElement('command', 'command', $commandNs)
    $xml.WriteAttributeString('xmlns', 'maml', $null, $maml)
    $xml.WriteAttributeString('xmlns', 'dev', $null, $devNs)

    $xml.WriteStartElement('command', 'details', $commandNs)
    $xml.WriteElementString('command', 'name', $commandNs, $cmdlet.Name)
    $xml.WriteElementString('command', 'verb', $commandNs, $cmdlet.Verb)
    $xml.WriteElementString('command', 'noun', $commandNs, $cmdlet.Noun)
    Write-Paras $xml (Get-Paragraphs $doc.Sections['SYNOPSIS'])
    $xml.WriteEndElement()

    Write-Paras $xml (Get-Paragraphs $doc.Sections['DESCRIPTION'])

    # Syntax: one item per parameter set, positional parameters first (as pwsh prints syntax).
    $xml.WriteStartElement('command', 'syntax', $commandNs)
    foreach ($set in ($cmdlet.ParameterSets | Sort-Object { -not $_.IsDefault }, Name)) {
        $xml.WriteStartElement('command', 'syntaxItem', $commandNs)
        $xml.WriteElementString('maml', 'name', $maml, $cmdlet.Name)
        $ordered = $set.Parameters | Where-Object { $_.Name -notin $common } |
            Sort-Object { if ($_.Position -ge 0) { $_.Position } else { [int]::MaxValue } }, { -not $_.IsMandatory }
        foreach ($p in $ordered) {
            $position = if ($p.Position -ge 0) { [string]$p.Position } else { 'named' }
            Write-Parameter $xml $p $p.IsMandatory $position (Get-PipelineText $p) (Get-ParameterHelp $doc $p.Name) $true
        }
        $xml.WriteEndElement()
    }
    $xml.WriteEndElement()

    # Parameters: each once, in declaration order; required/position only when every set agrees.
    $xml.WriteStartElement('command', 'parameters', $commandNs)
    foreach ($name in ($cmdlet.Parameters.Keys | Where-Object { $_ -notin $common })) {
        $meta = $cmdlet.Parameters[$name]
        $inSets = @($meta.ParameterSets.Values)
        $required = @($inSets | Where-Object { -not $_.IsMandatory }).Count -eq 0
        $positions = @($inSets | ForEach-Object Position | Sort-Object -Unique)
        $position = if ($positions.Count -eq 1 -and $positions[0] -ge 0) { [string]$positions[0] } else { 'named' }
        $pipeline = [pscustomobject]@{
            ValueFromPipeline               = @($inSets | Where-Object ValueFromPipeline).Count -gt 0
            ValueFromPipelineByPropertyName = @($inSets | Where-Object ValueFromPipelineByPropertyName).Count -gt 0
        }
        Write-Parameter $xml $meta $required $position (Get-PipelineText $pipeline) (Get-ParameterHelp $doc $name) $false
    }
    $xml.WriteEndElement()

    $xml.WriteStartElement('command', 'inputTypes', $commandNs)
    $inputs = @($cmdlet.Parameters.Values | Where-Object { $_.ParameterSets.Values | Where-Object ValueFromPipeline } | ForEach-Object { Get-TypeFullName $_.ParameterType } | Sort-Object -Unique)
    if ($inputs.Count -eq 0) { $inputs = @('None') }
    foreach ($type in $inputs) {
        $xml.WriteStartElement('command', 'inputType', $commandNs)
        $xml.WriteStartElement('dev', 'type', $devNs)
        $xml.WriteElementString('maml', 'name', $maml, $type)
        $xml.WriteEndElement()
        $xml.WriteEndElement()
    }
    $xml.WriteEndElement()

    $xml.WriteStartElement('command', 'returnValues', $commandNs)
    foreach ($type in @($cmdlet.OutputType | ForEach-Object Name | Sort-Object -Unique)) {
        $xml.WriteStartElement('command', 'returnValue', $commandNs)
        $xml.WriteStartElement('dev', 'type', $devNs)
        $xml.WriteElementString('maml', 'name', $maml, $type)
        $xml.WriteEndElement()
        $xml.WriteEndElement()
    }
    $xml.WriteEndElement()

    $notes = @(Get-Paragraphs $doc.Sections['NOTES'])
    if ($notes.Count -gt 0) {
        $xml.WriteStartElement('maml', 'alertSet', $maml)
        $xml.WriteStartElement('maml', 'alert', $maml)
        foreach ($p in $notes) { $xml.WriteElementString('maml', 'para', $maml, $p) }
        $xml.WriteEndElement()
        $xml.WriteEndElement()
    }

    $xml.WriteStartElement('command', 'examples', $commandNs)
    $n = 0
    foreach ($example in $doc.Examples) {
        $n++
        $title = $example.Title -replace '^Example \d+:\s*', ''
        $xml.WriteStartElement('command', 'example', $commandNs)
        $xml.WriteElementString('maml', 'title', $maml, "-------------------------- Example ${n}: $title --------------------------")
        $xml.WriteElementString('dev', 'code', $devNs, ($example.Code -join "`n`n"))
        $xml.WriteStartElement('dev', 'remarks', $devNs)
        foreach ($p in (Get-Paragraphs $example)) { $xml.WriteElementString('maml', 'para', $maml, $p) }
        $xml.WriteEndElement()
        $xml.WriteEndElement()
    }
    $xml.WriteEndElement()

    $xml.WriteStartElement('command', 'relatedLinks', $commandNs)
    $links = $doc.Sections['RELATED LINKS']
    foreach ($link in (@(if ($links) { $links.Lines }) | Where-Object { $_ -match '^- (.+)$' } | ForEach-Object { $_.Substring(2).Trim() })) {
        $xml.WriteStartElement('maml', 'navigationLink', $maml)
        $xml.WriteElementString('maml', 'linkText', $maml, $link)
        $xml.WriteElementString('maml', 'uri', $maml, '')
        $xml.WriteEndElement()
    }
    $xml.WriteEndElement()

    $xml.WriteEndElement()
}

$xml.WriteEndElement()
$xml.WriteEndDocument()
$xml.Flush()
$text = [System.Text.Encoding]::UTF8.GetString($buffer.ToArray()) + "`n"
$target = [System.IO.Path]::GetFullPath($OutFile)
[System.IO.Directory]::CreateDirectory([System.IO.Path]::GetDirectoryName($target)) | Out-Null
[System.IO.File]::WriteAllText($target, $text, [System.Text.UTF8Encoding]::new($false))
"Wrote help for $($cmdlets.Count) cmdlets to $target"
