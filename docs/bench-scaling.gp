$d_cat_1_1 << EOD
1 4525.86
2 12391.5
4 13262.7
8 12394.7
EOD
$d_cat_1_2 << EOD
1 3246.86
2 4974.08
4 4884.44
8 3019.46
EOD
$d_cat_3_1 << EOD
1 6544.45
2 5152.7
4 5952.57
8 7513.94
EOD
$d_cat_3_2 << EOD
1 1637.56
2 1938.83
4 4487.71
8 3615.33
EOD
$d_cat_4_1 << EOD
1 5611.13
2 2854.17
4 10084.2
8 13908.3
EOD
$d_cat_4_2 << EOD
1 5427.57
2 8833.94
4 8104.08
8 3923.86
EOD
$d_cat_5_1 << EOD
1 3789.94
2 12641.9
4 11224.6
8 7838.53
EOD
$d_cat_5_2 << EOD
1 12746.2
2 7038.8
4 4476.24
8 3376.69
EOD
$d_pwrite_1_1 << EOD
1 6789.59
2 6152.69
4 4081.35
8 27144.9
EOD
$d_pwrite_1_2 << EOD
1 4722.82
2 2748.21
4 4157.95
8 5549.86
EOD
$d_pwrite_3_1 << EOD
1 13322.7
2 15766.8
4 24762.8
8 30021.2
EOD
$d_pwrite_3_2 << EOD
1 8378.18
2 5817.27
4 6336.64
8 4558.62
EOD
$d_pwrite_4_1 << EOD
1 10258.4
2 6076.67
4 11305.1
8 17421.8
EOD
$d_pwrite_4_2 << EOD
1 5587.58
2 3101.22
4 3229.52
8 2327.42
EOD
$d_pwrite_5_1 << EOD
1 3315.76
2 15619.6
4 13280.9
8 18808.1
EOD
$d_pwrite_5_2 << EOD
1 4009.89
2 4280.52
4 4526.95
8 5576.92
EOD
$d_replace_1_1 << EOD
1 2009.98
2 8466.75
4 9521.37
8 6277.45
EOD
$d_replace_1_2 << EOD
1 2413.16
2 2953.59
4 1218.25
8 1361.88
EOD
$d_replace_3_1 << EOD
1 7068.98
2 4788.54
4 7113.19
8 7383.4
EOD
$d_replace_3_2 << EOD
1 2503.32
2 1694
4 4659.96
8 2020.42
EOD
$d_replace_4_1 << EOD
1 5801.65
2 6372.47
4 12772.6
8 14084.8
EOD
$d_replace_4_2 << EOD
1 3869.15
2 2522.8
4 2186.77
8 1960.03
EOD
$d_replace_5_1 << EOD
1 4333.78
2 5328.33
4 9959.54
8 8047.83
EOD
$d_replace_5_2 << EOD
1 1790.92
2 1623.63
4 2216.59
8 1731.42
EOD
$d_ring_1_1 << EOD
1 22754.3
2 2990.12
4 4784.42
8 8774.96
EOD
$d_ring_1_2 << EOD
1 9705.45
2 6233.48
4 1345.64
8 3340.16
EOD
$d_ring_3_1 << EOD
1 13161
2 7338.24
4 15634.6
8 10046.8
EOD
$d_ring_3_2 << EOD
1 9311.51
2 3459.62
4 2845.63
8 3261.58
EOD
$d_ring_4_1 << EOD
1 11898.6
2 7615.89
4 12318
8 11545
EOD
$d_ring_4_2 << EOD
1 11018.9
2 2805.33
4 2746.27
8 2694.38
EOD
$d_ring_5_1 << EOD
1 21421.9
2 17439.7
4 13983.2
8 10747.1
EOD
$d_ring_5_2 << EOD
1 5625.25
2 5136.83
4 2047.28
8 2761.88
EOD
set encoding utf8
do for [fmt in "png svg"] {
  if (fmt eq "png") {
    set terminal pngcairo noenhanced size 1400,1000 font "sans,11" linewidth 1.5
  } else {
    set terminal svg noenhanced size 1400,1000 font "sans,11" linewidth 1.5 background "white"
  }
  set output "/work/wt-scale/docs/bench-scaling." . fmt
  set multiplot layout 2,2 title "Scaling with client processes: mmfs e922fac, 2026-11-27, 2 CPUs, load average 12.38 before; medians of 5 x 0.3 s\nsolid: unpinned (as users run it); dashed: pinned (daemon and clients on CPU 0)"
  set logscale x 2
  set xtics (1, 2, 4, 8)
  set xrange [0.869565:9.2]
  set yrange [0:*]
  set format y "%gk"
  set xlabel "client processes"
  set grid ytics lc rgb "#dddddd"
  set offsets 0, 0, graph 0.3, 0
  set key top left horizontal maxrows 2 box opaque font ",10"
  set title "cat: open, read, close (ops/s)"
  plot $d_cat_1_1 using 1:($2/1000) with linespoints lc rgb "#0060ad" dt 1 pt 7 ps 0.8 title "mmfs", \
    $d_cat_1_2 using 1:($2/1000) with linespoints lc rgb "#0060ad" dt 2 pt 7 ps 0.8 notitle, \
    $d_cat_3_1 using 1:($2/1000) with linespoints lc rgb "#dd181f" dt 1 pt 7 ps 0.8 title "passthrough_ll", \
    $d_cat_3_2 using 1:($2/1000) with linespoints lc rgb "#dd181f" dt 2 pt 7 ps 0.8 notitle, \
    $d_cat_4_1 using 1:($2/1000) with linespoints lc rgb "#606060" dt 1 pt 7 ps 0.8 title "floor", \
    $d_cat_4_2 using 1:($2/1000) with linespoints lc rgb "#606060" dt 2 pt 7 ps 0.8 notitle, \
    $d_cat_5_1 using 1:($2/1000) with linespoints lc rgb "#2ca02c" dt 1 pt 7 ps 0.8 title "floor-mt", \
    $d_cat_5_2 using 1:($2/1000) with linespoints lc rgb "#2ca02c" dt 2 pt 7 ps 0.8 notitle, \
    NaN with lines lc rgb "black" dt 1 title "unpinned", \
    NaN with lines lc rgb "black" dt 2 title "pinned"
  set title "replace: open O_TRUNC, write, close (ops/s)"
  plot $d_replace_1_1 using 1:($2/1000) with linespoints lc rgb "#0060ad" dt 1 pt 7 ps 0.8 title "mmfs", \
    $d_replace_1_2 using 1:($2/1000) with linespoints lc rgb "#0060ad" dt 2 pt 7 ps 0.8 notitle, \
    $d_replace_3_1 using 1:($2/1000) with linespoints lc rgb "#dd181f" dt 1 pt 7 ps 0.8 title "passthrough_ll", \
    $d_replace_3_2 using 1:($2/1000) with linespoints lc rgb "#dd181f" dt 2 pt 7 ps 0.8 notitle, \
    $d_replace_4_1 using 1:($2/1000) with linespoints lc rgb "#606060" dt 1 pt 7 ps 0.8 title "floor", \
    $d_replace_4_2 using 1:($2/1000) with linespoints lc rgb "#606060" dt 2 pt 7 ps 0.8 notitle, \
    $d_replace_5_1 using 1:($2/1000) with linespoints lc rgb "#2ca02c" dt 1 pt 7 ps 0.8 title "floor-mt", \
    $d_replace_5_2 using 1:($2/1000) with linespoints lc rgb "#2ca02c" dt 2 pt 7 ps 0.8 notitle, \
    NaN with lines lc rgb "black" dt 1 title "unpinned", \
    NaN with lines lc rgb "black" dt 2 title "pinned"
  set title "pwrite of 100 bytes on an O_RDWR fd (ops/s)"
  plot $d_pwrite_1_1 using 1:($2/1000) with linespoints lc rgb "#0060ad" dt 1 pt 7 ps 0.8 title "mmfs", \
    $d_pwrite_1_2 using 1:($2/1000) with linespoints lc rgb "#0060ad" dt 2 pt 7 ps 0.8 notitle, \
    $d_pwrite_3_1 using 1:($2/1000) with linespoints lc rgb "#dd181f" dt 1 pt 7 ps 0.8 title "passthrough_ll", \
    $d_pwrite_3_2 using 1:($2/1000) with linespoints lc rgb "#dd181f" dt 2 pt 7 ps 0.8 notitle, \
    $d_pwrite_4_1 using 1:($2/1000) with linespoints lc rgb "#606060" dt 1 pt 7 ps 0.8 title "floor", \
    $d_pwrite_4_2 using 1:($2/1000) with linespoints lc rgb "#606060" dt 2 pt 7 ps 0.8 notitle, \
    $d_pwrite_5_1 using 1:($2/1000) with linespoints lc rgb "#2ca02c" dt 1 pt 7 ps 0.8 title "floor-mt", \
    $d_pwrite_5_2 using 1:($2/1000) with linespoints lc rgb "#2ca02c" dt 2 pt 7 ps 0.8 notitle, \
    NaN with lines lc rgb "black" dt 1 title "unpinned", \
    NaN with lines lc rgb "black" dt 2 title "pinned"
  set title "ring append, all clients on one ring (records/s)"
  plot $d_ring_1_1 using 1:($2/1000) with linespoints lc rgb "#0060ad" dt 1 pt 7 ps 0.8 title "mmfs", \
    $d_ring_1_2 using 1:($2/1000) with linespoints lc rgb "#0060ad" dt 2 pt 7 ps 0.8 notitle, \
    $d_ring_3_1 using 1:($2/1000) with linespoints lc rgb "#dd181f" dt 1 pt 7 ps 0.8 title "passthrough_ll", \
    $d_ring_3_2 using 1:($2/1000) with linespoints lc rgb "#dd181f" dt 2 pt 7 ps 0.8 notitle, \
    $d_ring_4_1 using 1:($2/1000) with linespoints lc rgb "#606060" dt 1 pt 7 ps 0.8 title "floor", \
    $d_ring_4_2 using 1:($2/1000) with linespoints lc rgb "#606060" dt 2 pt 7 ps 0.8 notitle, \
    $d_ring_5_1 using 1:($2/1000) with linespoints lc rgb "#2ca02c" dt 1 pt 7 ps 0.8 title "floor-mt", \
    $d_ring_5_2 using 1:($2/1000) with linespoints lc rgb "#2ca02c" dt 2 pt 7 ps 0.8 notitle, \
    NaN with lines lc rgb "black" dt 1 title "unpinned", \
    NaN with lines lc rgb "black" dt 2 title "pinned"
  unset multiplot
  set output
}
