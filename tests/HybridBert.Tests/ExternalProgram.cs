using System.Diagnostics;

namespace HybridBert.Tests;

/// <summary>Runs a program the tests need from the machine (python3, node, npm, apt-get): its exit code, standard output
/// and standard error; exit -1 when it is missing or runs past <c>timeout</c> (then it is killed).</summary>
internal static class ExternalProgram
{
    public static (int Exit, string Stdout, string Stderr) Run(string program, IEnumerable<string> args, TimeSpan timeout,
        IDictionary<string, string>? environment = null, string? input = null, string? workingDirectory = null)
    {
        try
        {
            var info = new ProcessStartInfo(program)
            {
                RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = input is not null,
                WorkingDirectory = workingDirectory ?? "",
            };
            foreach (var a in args) info.ArgumentList.Add(a);
            foreach (var (k, v) in environment ?? new Dictionary<string, string>()) info.Environment[k] = v;
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (input is not null)
            {
                process.StandardInput.Write(input);
                process.StandardInput.Close();
            }
            if (!process.WaitForExit(timeout))
            {
                process.Kill(true);
                return (-1, "", "timed out");
            }
            return (process.ExitCode, stdout.Result, stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, "", e.Message);
        }
    }
}
