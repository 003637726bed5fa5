# Merge benchmark (included from tools/CMakeLists.txt).
# ioe_bench_merge: bench_merge() for other tools to link; ioengine-bench-merge: standalone.
add_library(ioe_bench_merge STATIC ${CMAKE_CURRENT_LIST_DIR}/bench_merge.c)
target_include_directories(ioe_bench_merge PUBLIC ${CMAKE_CURRENT_LIST_DIR}
                           PRIVATE ${PROJECT_SOURCE_DIR}/engine/src)
target_link_libraries(ioe_bench_merge PUBLIC ioengine_static)

add_executable(ioengine-bench-merge ${CMAKE_CURRENT_LIST_DIR}/bench_merge_main.c)
target_link_libraries(ioengine-bench-merge PRIVATE ioe_bench_merge)
