# Drawn by `bench/run --compare 8f32d48 --reps 5 --plot /tmp/bench-scaling`: mmfs 2beeeb3, 2026-11-28, 2 CPUs, load average 1.31 before; medians of 5 x 0.3 s.
# The medians: $d_WORKLOAD_SYSTEM_PLACEMENT, clients and rate per line;
# systems: mmfs mmfs@8f32d48 tmpfs passthrough floor floor-mt; placements: none same.  Redraw: gnuplot /tmp/bench-scaling.gp
$d_cat_1_1 << EOD
1 17309.4
2 21571.3
4 26420.3
8 27582.2
EOD
$d_cat_1_2 << EOD
1 27049.5
2 22764.1
4 24194.2
8 23463.7
EOD
$d_cat_2_1 << EOD
1 16703.4
2 21944.4
4 28520
8 27409.1
EOD
$d_cat_2_2 << EOD
1 26229.5
2 23706.6
4 24406.1
8 24145.4
EOD
$d_cat_4_1 << EOD
1 11326
2 9893.13
4 13552.1
8 18761.3
EOD
$d_cat_4_2 << EOD
1 14854.5
2 13825.9
4 13155.1
8 13792.5
EOD
$d_cat_5_1 << EOD
1 16568.7
2 23864
4 29690.9
8 27129.6
EOD
$d_cat_5_2 << EOD
1 27384.3
2 24444.2
4 23897.9
8 24122.2
EOD
$d_cat_6_1 << EOD
1 15771.8
2 14296.2
4 20060.6
8 25587.9
EOD
$d_cat_6_2 << EOD
1 22941.7
2 20371
4 20233.1
8 21050
EOD
$d_pwrite_1_1 << EOD
1 37398
2 60834.6
4 81078
8 73074.3
EOD
$d_pwrite_1_2 << EOD
1 67395.9
2 54909.6
4 56951.3
8 60289.1
EOD
$d_pwrite_2_1 << EOD
1 18805.4
2 27914.2
4 33267.1
8 37526.9
EOD
$d_pwrite_2_2 << EOD
1 37064.3
2 32004.7
4 31639.4
8 34554.4
EOD
$d_pwrite_4_1 << EOD
1 41246.8
2 39662.1
4 52348
8 66704.5
EOD
$d_pwrite_4_2 << EOD
1 58294.3
2 52659.9
4 50149.1
8 50950.7
EOD
$d_pwrite_5_1 << EOD
1 21299.2
2 26222.5
4 33598
8 42439.4
EOD
$d_pwrite_5_2 << EOD
1 38781.8
2 33110.4
4 33550.4
8 35188.9
EOD
$d_pwrite_6_1 << EOD
1 23272.6
2 21628.6
4 29783.9
8 38517.9
EOD
$d_pwrite_6_2 << EOD
1 35153
2 32306.7
4 32227.8
8 32845.6
EOD
$d_replace_1_1 << EOD
1 12234.7
2 14796.1
4 19296.1
8 19635.9
EOD
$d_replace_1_2 << EOD
1 19407.3
2 16857.8
4 17281.9
8 17680.7
EOD
$d_replace_2_1 << EOD
1 12706.8
2 15158.8
4 18953.5
8 20292.2
EOD
$d_replace_2_2 << EOD
1 19067.5
2 17257.9
4 17388.7
8 17737.1
EOD
$d_replace_4_1 << EOD
1 11022.2
2 9693.09
4 13535.2
8 19474.1
EOD
$d_replace_4_2 << EOD
1 14443.5
2 13241.7
4 12946.8
8 13605.3
EOD
$d_replace_5_1 << EOD
1 12887.7
2 17517.7
4 20253.2
8 23026
EOD
$d_replace_5_2 << EOD
1 20620.8
2 18523.2
4 18693.5
8 18955.5
EOD
$d_replace_6_1 << EOD
1 10728.5
2 10360.3
4 15389.9
8 19853.1
EOD
$d_replace_6_2 << EOD
1 17774.3
2 16564.9
4 16606.4
8 16700.9
EOD
$d_ring_1_1 << EOD
1 37128.4
2 32449.4
4 34260.9
8 35299.6
EOD
$d_ring_1_2 << EOD
1 63588.7
2 40376.4
4 40800.1
8 40351.4
EOD
$d_ring_2_1 << EOD
1 38510.9
2 33613.5
4 36126.2
8 35907.3
EOD
$d_ring_2_2 << EOD
1 66599.5
2 42048.9
4 41426.7
8 41581.7
EOD
$d_ring_4_1 << EOD
1 40165.4
2 30576.3
4 30113.9
8 29547
EOD
$d_ring_4_2 << EOD
1 55565.8
2 37588.3
4 36552.5
8 35970.5
EOD
$d_ring_5_1 << EOD
1 38999.8
2 31971.9
4 34809.9
8 34603.9
EOD
$d_ring_5_2 << EOD
1 68231.1
2 44030.5
4 42485.7
8 42269.3
EOD
$d_ring_6_1 << EOD
1 41570.3
2 32909
4 33659.8
8 32696.7
EOD
$d_ring_6_2 << EOD
1 61793.1
2 39917.2
4 37619.2
8 38540
EOD
set encoding utf8
do for [fmt in "png svg"] {
  if (fmt eq "png") {
    set terminal pngcairo noenhanced size 1400,1000 font "sans,11" linewidth 1.5
  } else {
    set terminal svg noenhanced size 1400,1000 font "sans,11" linewidth 1.5 background "white"
  }
  set output "docs/bench-scaling." . fmt
  set multiplot layout 2,2 title "Scaling with client processes: mmfs 2beeeb3, 2026-11-28, 2 CPUs, load average 1.31 before; medians of 5 x 0.3 s\nsolid: unpinned (as users run it); dashed: pinned (daemon and clients on CPU 0)"
  set logscale x 2
  set xtics (1, 2, 4, 8)
  set xrange [0.869565:9.2]
  set yrange [0:*]
  set format y "%gk"
  set xlabel "client processes"
  set grid ytics lc rgb "#dddddd"
  set offsets 0, 0, graph 0.45, 0
  set key top left horizontal maxcols 3 box opaque font ",10"
  set title "cat: open, read, close (ops/s)"
  plot $d_cat_1_1 using 1:($2/1000) with linespoints lc rgb "#0060ad" dt 1 pt 7 ps 0.8 title "mmfs", \
    $d_cat_1_2 using 1:($2/1000) with linespoints lc rgb "#0060ad" dt 2 pt 7 ps 0.8 notitle, \
    $d_cat_2_1 using 1:($2/1000) with linespoints lc rgb "#9400d3" dt 1 pt 7 ps 0.8 title "mmfs@8f32d48", \
    $d_cat_2_2 using 1:($2/1000) with linespoints lc rgb "#9400d3" dt 2 pt 7 ps 0.8 notitle, \
    $d_cat_4_1 using 1:($2/1000) with linespoints lc rgb "#dd181f" dt 1 pt 7 ps 0.8 title "passthrough_ll", \
    $d_cat_4_2 using 1:($2/1000) with linespoints lc rgb "#dd181f" dt 2 pt 7 ps 0.8 notitle, \
    $d_cat_5_1 using 1:($2/1000) with linespoints lc rgb "#606060" dt 1 pt 7 ps 0.8 title "floor", \
    $d_cat_5_2 using 1:($2/1000) with linespoints lc rgb "#606060" dt 2 pt 7 ps 0.8 notitle, \
    $d_cat_6_1 using 1:($2/1000) with linespoints lc rgb "#2ca02c" dt 1 pt 7 ps 0.8 title "floor-mt", \
    $d_cat_6_2 using 1:($2/1000) with linespoints lc rgb "#2ca02c" dt 2 pt 7 ps 0.8 notitle, \
    NaN with lines lc rgb "black" dt 1 title "unpinned", \
    NaN with lines lc rgb "black" dt 2 title "pinned"
  set title "replace: open O_TRUNC, write, close (ops/s)"
  plot $d_replace_1_1 using 1:($2/1000) with linespoints lc rgb "#0060ad" dt 1 pt 7 ps 0.8 title "mmfs", \
    $d_replace_1_2 using 1:($2/1000) with linespoints lc rgb "#0060ad" dt 2 pt 7 ps 0.8 notitle, \
    $d_replace_2_1 using 1:($2/1000) with linespoints lc rgb "#9400d3" dt 1 pt 7 ps 0.8 title "mmfs@8f32d48", \
    $d_replace_2_2 using 1:($2/1000) with linespoints lc rgb "#9400d3" dt 2 pt 7 ps 0.8 notitle, \
    $d_replace_4_1 using 1:($2/1000) with linespoints lc rgb "#dd181f" dt 1 pt 7 ps 0.8 title "passthrough_ll", \
    $d_replace_4_2 using 1:($2/1000) with linespoints lc rgb "#dd181f" dt 2 pt 7 ps 0.8 notitle, \
    $d_replace_5_1 using 1:($2/1000) with linespoints lc rgb "#606060" dt 1 pt 7 ps 0.8 title "floor", \
    $d_replace_5_2 using 1:($2/1000) with linespoints lc rgb "#606060" dt 2 pt 7 ps 0.8 notitle, \
    $d_replace_6_1 using 1:($2/1000) with linespoints lc rgb "#2ca02c" dt 1 pt 7 ps 0.8 title "floor-mt", \
    $d_replace_6_2 using 1:($2/1000) with linespoints lc rgb "#2ca02c" dt 2 pt 7 ps 0.8 notitle, \
    NaN with lines lc rgb "black" dt 1 title "unpinned", \
    NaN with lines lc rgb "black" dt 2 title "pinned"
  set title "pwrite of 100 bytes on an O_RDWR fd (ops/s)"
  plot $d_pwrite_1_1 using 1:($2/1000) with linespoints lc rgb "#0060ad" dt 1 pt 7 ps 0.8 title "mmfs", \
    $d_pwrite_1_2 using 1:($2/1000) with linespoints lc rgb "#0060ad" dt 2 pt 7 ps 0.8 notitle, \
    $d_pwrite_2_1 using 1:($2/1000) with linespoints lc rgb "#9400d3" dt 1 pt 7 ps 0.8 title "mmfs@8f32d48", \
    $d_pwrite_2_2 using 1:($2/1000) with linespoints lc rgb "#9400d3" dt 2 pt 7 ps 0.8 notitle, \
    $d_pwrite_4_1 using 1:($2/1000) with linespoints lc rgb "#dd181f" dt 1 pt 7 ps 0.8 title "passthrough_ll", \
    $d_pwrite_4_2 using 1:($2/1000) with linespoints lc rgb "#dd181f" dt 2 pt 7 ps 0.8 notitle, \
    $d_pwrite_5_1 using 1:($2/1000) with linespoints lc rgb "#606060" dt 1 pt 7 ps 0.8 title "floor", \
    $d_pwrite_5_2 using 1:($2/1000) with linespoints lc rgb "#606060" dt 2 pt 7 ps 0.8 notitle, \
    $d_pwrite_6_1 using 1:($2/1000) with linespoints lc rgb "#2ca02c" dt 1 pt 7 ps 0.8 title "floor-mt", \
    $d_pwrite_6_2 using 1:($2/1000) with linespoints lc rgb "#2ca02c" dt 2 pt 7 ps 0.8 notitle, \
    NaN with lines lc rgb "black" dt 1 title "unpinned", \
    NaN with lines lc rgb "black" dt 2 title "pinned"
  set title "ring append, all clients on one ring (records/s)"
  plot $d_ring_1_1 using 1:($2/1000) with linespoints lc rgb "#0060ad" dt 1 pt 7 ps 0.8 title "mmfs", \
    $d_ring_1_2 using 1:($2/1000) with linespoints lc rgb "#0060ad" dt 2 pt 7 ps 0.8 notitle, \
    $d_ring_2_1 using 1:($2/1000) with linespoints lc rgb "#9400d3" dt 1 pt 7 ps 0.8 title "mmfs@8f32d48", \
    $d_ring_2_2 using 1:($2/1000) with linespoints lc rgb "#9400d3" dt 2 pt 7 ps 0.8 notitle, \
    $d_ring_4_1 using 1:($2/1000) with linespoints lc rgb "#dd181f" dt 1 pt 7 ps 0.8 title "passthrough_ll", \
    $d_ring_4_2 using 1:($2/1000) with linespoints lc rgb "#dd181f" dt 2 pt 7 ps 0.8 notitle, \
    $d_ring_5_1 using 1:($2/1000) with linespoints lc rgb "#606060" dt 1 pt 7 ps 0.8 title "floor", \
    $d_ring_5_2 using 1:($2/1000) with linespoints lc rgb "#606060" dt 2 pt 7 ps 0.8 notitle, \
    $d_ring_6_1 using 1:($2/1000) with linespoints lc rgb "#2ca02c" dt 1 pt 7 ps 0.8 title "floor-mt", \
    $d_ring_6_2 using 1:($2/1000) with linespoints lc rgb "#2ca02c" dt 2 pt 7 ps 0.8 notitle, \
    NaN with lines lc rgb "black" dt 1 title "unpinned", \
    NaN with lines lc rgb "black" dt 2 title "pinned"
  unset multiplot
  set output
}
