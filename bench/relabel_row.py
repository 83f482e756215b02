#!/usr/bin/env python3
"""Flips the label (4th field) of data row N of labels.csv in the current folder, between
'question' and 'greeting', and writes the table anew (new inode and mtime, as an editor would).

Usage: python3 bench/relabel_row.py N   (N counts lines from 0, the header being line 0)
Used by bench/paths-ab.sh, bench/fsmonitor.sh and bench/targets.sh on bench/scale.sh's trees.
"""
import os
import sys

n = int(sys.argv[1])
with open('labels.csv', 'rb') as f:
    rows = f.read().split(b'\n')
fields = rows[n].split(b',')
fields[3] = b'question' if fields[3] != b'question' else b'greeting'
rows[n] = b','.join(fields)
with open('labels.csv.new', 'wb') as f:
    f.write(b'\n'.join(rows))
os.replace('labels.csv.new', 'labels.csv')
