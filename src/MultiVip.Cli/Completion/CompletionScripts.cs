namespace MultiVip.Cli.Completion;

/// <summary>
/// The shell side of completion: each script sends the line typed so far (up to the cursor,
/// without the program word) back to the same program as `multivip [suggest:N] "LINE"`,
/// System.CommandLine's completion directive, and offers the lines it prints. So the shells know
/// nothing of the verbs: what completes is always what the program that runs parses.
/// </summary>
internal static class CompletionScripts
{
    public static readonly string[] Shells = ["bash", "zsh", "fish", "pwsh"];

    /// <summary>What `multivip completion --help` and docs/cli.md show.</summary>
    public const string InstallLines = """
        bash: source <(multivip completion bash)                        (in ~/.bashrc)
        zsh:  source <(multivip completion zsh)                         (in ~/.zshrc, after compinit)
        fish: multivip completion fish > ~/.config/fish/completions/multivip.fish
        pwsh: multivip completion pwsh | Out-String | Invoke-Expression  (in $PROFILE)
        """;

    public static string For(string shell) => shell switch
    {
        "bash" => Bash,
        "zsh" => Zsh,
        "fish" => Fish,
        "pwsh" => Pwsh,
        _ => throw new ArgumentOutOfRangeException(nameof(shell), shell, "Use bash, zsh, fish or pwsh."),
    };

    // COMP_LINE up to COMP_POINT rather than COMP_WORDS: bash splits words at = and :, which would
    // turn --output=json into three words. -o default: nothing offered (e.g. the FILE of a backup)
    // falls back to file names.
    private const string Bash = """
        # multivip completion for bash. Install: source <(multivip completion bash)   (in ~/.bashrc)
        _multivip_complete() {
            local program="${COMP_WORDS[0]/#\~/$HOME}"
            local line="${COMP_LINE:0:COMP_POINT}"
            line="${line#"${line%%[![:space:]]*}"}"
            line="${line#"${COMP_WORDS[0]}"}"
            line="${line#"${line%%[![:space:]]*}"}"
            COMPREPLY=()
            local candidate
            while IFS= read -r candidate; do
                [ -n "$candidate" ] && COMPREPLY+=("$candidate")
            done < <("$program" "[suggest:${#line}]" "$line" 2>/dev/null)
        }
        complete -o default -F _multivip_complete multivip

        """;

    private const string Zsh = """
        #compdef multivip
        # multivip completion for zsh. Install: source <(multivip completion zsh)   (in ~/.zshrc, after compinit)
        _multivip() {
            local program="${words[1]/#\~/$HOME}"
            local line="${(j: :)words[2,CURRENT]}"
            local -a candidates
            candidates=("${(@f)$("$program" "[suggest:${#line}]" "$line" 2>/dev/null)}")
            candidates=(${candidates:#})
            if (( ${#candidates} )); then
                compadd -- "${candidates[@]}"
            else
                _files
            fi
        }
        if [ "$funcstack[1]" = "_multivip" ]; then
            _multivip "$@"
        else
            compdef _multivip multivip
        fi

        """;

    private const string Fish = """
        # multivip completion for fish. Install: multivip completion fish > ~/.config/fish/completions/multivip.fish
        function __multivip_complete
            set -l tokens (commandline -opc)
            set -l program $tokens[1]
            set -e tokens[1]
            set -l line (string join ' ' -- $tokens (commandline -ct))
            set -l candidates ($program "[suggest:"(string length -- "$line")"]" "$line" 2>/dev/null)
            if test (count $candidates) -gt 0
                printf '%s\n' $candidates
            else
                __fish_complete_path (commandline -ct)
            end
        end
        complete -c multivip -f -a '(__multivip_complete)'

        """;

    // The command's extent ends at its last word: a cursor past it stands after a space.
    private const string Pwsh = """
        # multivip completion for PowerShell. Install: multivip completion pwsh | Out-String | Invoke-Expression   (in $PROFILE)
        Register-ArgumentCompleter -Native -CommandName 'multivip', 'multivip.exe' -ScriptBlock {
            param($wordToComplete, $commandAst, $cursorPosition)
            $program = $commandAst.CommandElements[0]
            $start = $commandAst.Extent.StartOffset
            $text = $commandAst.Extent.Text
            $from = $program.Extent.EndOffset - $start
            $to = $cursorPosition - $start
            if ($to -lt $from) { return }
            $line = if ($to -le $text.Length) { $text.Substring($from, $to - $from) } else { $text.Substring($from) + ' ' }
            $line = $line.TrimStart()
            $name = if ($program -is [System.Management.Automation.Language.StringConstantExpressionAst]) { $program.Value } else { $program.Extent.Text }
            & $name "[suggest:$($line.Length)]" $line 2>$null | Where-Object { $_ } | ForEach-Object {
                [System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
            }
        }

        """;
}
