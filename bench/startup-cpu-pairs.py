# CPU (user + sys, from wait4) of a 3-row file -> file `sluice run` for two builds, in alternating
# pairs: `python3 bench/startup-cpu-pairs.py A/bin.js B/bin.js PAIRS`, run in a folder holding j.yaml
# (a file source of a 3-row CSV and a file sink). Prints the medians and the median B/A ratio.
import os, subprocess, sys, statistics
def cpu(binp):
    pid = os.fork()
    if pid == 0:
        fd = os.open('/dev/null', os.O_WRONLY); os.dup2(fd, 1); os.dup2(fd, 2)
        os.execvp('node', ['node', binp, 'run', 'j.yaml', '--fresh', '--progress', 'none'])
    _, status, ru = os.wait4(pid, 0)
    return ru.ru_utime + ru.ru_stime
A, B = sys.argv[1], sys.argv[2]
ratios = []; a_s=[]; b_s=[]
for i in range(int(sys.argv[3])):
    if i % 2: b = cpu(B); a = cpu(A)
    else: a = cpu(A); b = cpu(B)
    a_s.append(a); b_s.append(b); ratios.append(b / a)
print(f"A median {statistics.median(a_s)*1000:.1f} ms, B median {statistics.median(b_s)*1000:.1f} ms, B/A median {statistics.median(ratios):.3f} over {len(ratios)} pairs")
