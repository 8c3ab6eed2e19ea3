export PS_SCHEDULER=127.0.0.1:9000 PS_NUM_SERVERS=2 PS_NUM_WORKERS=2
PS_ROLE=scheduler node tmp-readme-role.mjs &
PS_ROLE=server node tmp-readme-role.mjs &
PS_ROLE=server node tmp-readme-role.mjs &
PS_ROLE=worker node tmp-readme-role.mjs &
PS_ROLE=worker node tmp-readme-role.mjs
wait
