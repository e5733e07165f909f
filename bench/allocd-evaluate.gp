# SPDX-License-Identifier: LGPL-2.1-or-later
# The allocator evaluation's plots from bench/allocd-evaluate's data: gnuplot -e "dir='DIR'" this file.
set terminal pngcairo size 760,480 font "sans,11" noenhanced
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set grid ytics
set key top right

set output dir . "/allocator-evaluation-energy.png"
set title "CPU + DRAM energy over the simulated day, per seed and policy"
set xlabel "seed"
set ylabel "Wh"
set yrange [0:*]
plot for [i=2:5] dir . "/allocator-evaluation-energy.dat" using i:xtic(1) title columnheader(i)

set output dir . "/allocator-evaluation-errors.png"
set title "Corrected errors seen by each class (all seeds; 1 + count, log scale)"
set xlabel "policy"
set ylabel "corrected errors + 1"
set logscale y
set yrange [0.8:*]
plot for [i=2:4] dir . "/allocator-evaluation-errors.dat" using i:xtic(1) title columnheader(i)
unset logscale y

set output dir . "/allocator-evaluation-hourly.png"
set style data linespoints
set title "CPU power through the day (the first seed)"
set xlabel "simulated hour"
set ylabel "W"
set yrange [0:*]
plot for [i=2:5] dir . "/allocator-evaluation-hourly.dat" using 1:i title columnheader(i)
