# SPDX-License-Identifier: LGPL-2.1-or-later
# The predictor's calibration plot (held-out seeds) from predict-bench --out DIR: gnuplot -e "dir='DIR'" this file.
set terminal pngcairo size 720,560 font "sans,11" noenhanced
set output dir . "/predictor-calibration.png"
set title "Predictor calibration, held-out seeds of the simulated board: P(UE within 24 h)"
set xlabel "predicted (mean of the bin)"
set ylabel "observed frequency"
set logscale xy
set xrange [1e-5:1.2]
set yrange [1e-4:1.2]
set key top left
set grid
plot dir . "/predictor-calibration.dat" using 1:(($2 > 0) ? $2 : 1e-4):(sqrt($3)/40) with points pt 7 ps variable title "bins (point size: samples)", \
     x with lines dt 2 title "perfect calibration"
